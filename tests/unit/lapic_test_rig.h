// A local APIC with a manual clock, a warning log and a record of where the
// board was told to map its page: shared by the LAPIC's unit tests.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "devices/lapic.h"

namespace rrvm::test {

struct LapicRig {
  explicit LapicRig(uint8_t id = 0)
      : apic(clock, id, [this](const std::string& m) { warnings.push_back(m); }) {
    apic.set_mmio_observer([this](std::optional<uint64_t> b) { pages.push_back(b); });
  }

  ManualClock clock;
  std::vector<std::string> warnings;
  std::vector<std::optional<uint64_t>> pages;  // what the board was told, in order
  Lapic apic;

  // xAPIC page access.
  void w(uint64_t off, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    apic.write(off, b);
  }
  uint32_t r(uint64_t off) {
    uint8_t b[4];
    apic.read(off, b);
    return static_cast<uint32_t>(load_le(b));
  }
  void enable() { w(0xf0, 0x1ff); }
  // Bit `v` of a 256-bit register at base 0x100 / 0x180 / 0x200.
  bool bit(uint64_t base, uint8_t v) { return (r(base + 0x10 * (v / 32)) >> (v % 32)) & 1; }
  // Runs the VMM's side: advance timers to `ns`.
  void run_to(uint64_t ns) {
    clock.set(ns);
    apic.advance(ns);
  }

  // MSR access; a #GP fails the test.
  uint64_t msr(uint32_t index) {
    std::optional<uint64_t> v = apic.read_msr(index);
    EXPECT_TRUE(v.has_value()) << std::hex << index;
    return v.value_or(0xdeadbeef);
  }
  // xAPIC -> x2APIC, then software-enable through SVR.
  void to_x2apic() {
    ASSERT_TRUE(apic.set_apic_base(Lapic::kDefaultBase | Lapic::kApicBaseBsp |
                                   Lapic::kApicBaseEnable | Lapic::kApicBaseExtd));
    ASSERT_TRUE(apic.write_msr(0x80f, 0x1ff));
  }
};

}  // namespace rrvm::test
