// rrvm tables: the firmware tables of a configuration, without KVM.
#include <gtest/gtest.h>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm {
namespace {

using test::run_rrvm;

// The ASCII columns of a hex dump joined, so a name split across two dump
// lines is still found.
std::string ascii(const std::string& dump) {
  std::string out;
  for (size_t at = 0; (at = dump.find("  |", at)) != std::string::npos;) {
    size_t end = dump.find("|\n", at + 3);
    if (end == std::string::npos) break;
    out += dump.substr(at + 3, end - at - 3);
    at = end;
  }
  return out;
}

TEST(TablesCommand, Kvm84HasOnlyAnIsaBusAndFixedAddsPci) {
  auto kvm84 = run_rrvm({"tables", "--mptable", "kvm84", "--only", "mp", "--net", "user"});
  ASSERT_EQ(kvm84.status, 0) << kvm84.err;
  EXPECT_NE(kvm84.out.find("|..ISA   "), std::string::npos) << kvm84.out;
  EXPECT_EQ(kvm84.out.find("PCI   "), std::string::npos) << kvm84.out;
  auto fixed = run_rrvm({"tables", "--mptable", "fixed", "--only", "mp", "--net", "user"});
  ASSERT_EQ(fixed.status, 0);
  EXPECT_NE(fixed.out.find("|..PCI   ..ISA   |"), std::string::npos) << fixed.out;
  EXPECT_EQ(fixed.out.find("RSDP"), std::string::npos) << "--only mp";
}

TEST(TablesCommand, DsdtHasPicOnlyWhenAsked) {
  auto on = run_rrvm({"tables", "--only", "acpi", "--acpi-pic", "on"});
  auto off = run_rrvm({"tables", "--only", "acpi", "--acpi-pic", "off"});
  ASSERT_EQ(on.status, 0);
  ASSERT_EQ(off.status, 0);
  EXPECT_NE(ascii(on.out).find("_PIC"), std::string::npos) << on.out;
  EXPECT_EQ(ascii(off.out).find("_PIC"), std::string::npos) << off.out;
  EXPECT_NE(ascii(off.out).find("_PRT"), std::string::npos) << "the DSDT is there";
  EXPECT_EQ(run_rrvm({"tables", "--mptable", "kvm85"}).status, 64);
  EXPECT_EQ(run_rrvm({"tables", "--acpi", "off", "--acpi-pic", "on"}).status, 64);
}

}  // namespace
}  // namespace rrvm
