// Device warnings reach stderr named by device and rate-limited, so a guest
// hammering a reserved register cannot flood the terminal.
#include "vmm/device_warnings.h"

#include <gtest/gtest.h>

#include <sstream>

namespace rrvm {
namespace {

TEST(DeviceWarnings, NamedAndLimitedPerDevice) {
  std::ostringstream out;
  DeviceWarnings w(out);
  WarnFn ioapic = w.sink("ioapic"), lapic = w.sink("lapic");
  for (int i = 0; i < 100; ++i) ioapic("write to reserved register 0x3");
  lapic("unaligned MMIO read");
  std::string text = out.str();
  EXPECT_NE(text.find("rrvm: warning: ioapic: write to reserved register 0x3"), std::string::npos);
  EXPECT_NE(text.find("ioapic: further warnings suppressed"), std::string::npos);
  EXPECT_NE(text.find("rrvm: warning: lapic: unaligned MMIO read"), std::string::npos)
      << "one noisy device does not silence another";
  EXPECT_EQ(w.count("ioapic"), 100);
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, size_t(DeviceWarnings::kLimit + 1 + 1));
}

}  // namespace
}  // namespace rrvm
