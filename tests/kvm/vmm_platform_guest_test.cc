// The platform guest (tests/guests/platform.c) on rrvm's PC for each
// firmware knob: what an OS finds in the MP table, PCI and ACPI, and
// interrupts through the IOAPIC and the LAPIC. Exact lines from
// tests/guests/README.md.
#include <gtest/gtest.h>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

CliResult platform(std::vector<std::string> knobs) {
  std::vector<std::string> args = {"run", "--kernel", guest_path("platform"), "--timeout", "60"};
  args.insert(args.end(), knobs.begin(), knobs.end());
  return run_rrvm(args);
}

bool has(const std::string& out, const std::string& line) {
  return out.find(line) != std::string::npos;
}

TEST(PlatformGuest, FixedMpTableHasPciAndIsaBusesAndInterruptsWork) {
  RRVM_REQUIRE_KVM();
  CliResult r = platform({"--mptable", "fixed"});
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "mp: bus 0: PCI\nmp: bus 1: ISA\n")) << r.out;
  EXPECT_TRUE(has(r.out, "mp: int INT bus 1 irq 0 flags 0x0 -> ioapic 1 pin 2")) << r.out;
  EXPECT_TRUE(has(r.out, "pci 00:00.0 8086:1237")) << r.out;
  EXPECT_TRUE(has(r.out, "pci 00:01.0 8086:7000")) << r.out;
  EXPECT_TRUE(has(r.out, "_PIC method present")) << r.out;
  EXPECT_TRUE(has(r.out, "PASS: 10 PIT interrupts through IOAPIC and LAPIC")) << r.out;
  EXPECT_TRUE(has(r.out, "PASS: LAPIC timer one-shot: one interrupt")) << r.out;
  EXPECT_TRUE(has(r.out, "PASS: self-IPI: one interrupt")) << r.out;
  EXPECT_TRUE(has(r.out, "SUMMARY: 9 tests, 0 failures")) << r.out;
}

TEST(PlatformGuest, Kvm84MpTableHasNoPciBus) {
  RRVM_REQUIRE_KVM();
  CliResult r = platform({"--mptable", "kvm84"});
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "mp: bus 0: ISA\n")) << r.out;
  EXPECT_FALSE(has(r.out, ": PCI\n")) << r.out;
  EXPECT_TRUE(has(r.out, "SUMMARY: 9 tests, 0 failures")) << r.out;
}

TEST(PlatformGuest, Kvm84WithTheNicFindsNoPciInterrupt) {
  RRVM_REQUIRE_KVM();
  CliResult r = platform({"--mptable", "kvm84", "--net", "user"});
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "pci 00:03.0 10ec:8139")) << r.out;
  EXPECT_TRUE(has(r.out, "no PCI interrupt routing")) << r.out;
}

TEST(PlatformGuest, FixedWithTheNicRoutesItToIoapicPin18) {
  RRVM_REQUIRE_KVM();
  CliResult r = platform({"--mptable", "fixed", "--net", "user"});
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "pci 00:03.0 10ec:8139")) << r.out;
  EXPECT_TRUE(has(r.out, "ioapic 1 pin 18")) << r.out;
}

TEST(PlatformGuest, AcpiPicOffLeavesTheDsdtWithoutPic) {
  RRVM_REQUIRE_KVM();
  CliResult r = platform({"--acpi-pic", "off"});
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "no _PIC method")) << r.out;
  EXPECT_TRUE(has(r.out, "SUMMARY: 9 tests, 0 failures")) << r.out;
}

TEST(PlatformGuest, WithoutTablesTheArchitecturalDefaultsStillWork) {
  RRVM_REQUIRE_KVM();
  CliResult r = platform({"--mptable", "none", "--acpi", "off"});
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "mp: no MP floating pointer")) << r.out;
  EXPECT_TRUE(has(r.out, ", 0 failures")) << r.out;
}

TEST(PlatformGuest, RecordsAndReplaysThroughTheApics) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir();
  CliResult rec = run_rrvm({"record", "-o", dir + "/p.rrt", "--kernel", guest_path("platform")});
  ASSERT_EQ(rec.status, 1) << rec.err;
  CliResult rep = run_rrvm({"replay", dir + "/p.rrt"});
  EXPECT_EQ(rep.status, 0) << rep.err;
  EXPECT_EQ(rep.out, rec.out);
}

}  // namespace
}  // namespace rrvm::test
