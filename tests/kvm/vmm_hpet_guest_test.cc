// The hpet guest (tests/guests/hpet.c) on rrvm's PC: the ACPI HPET table,
// the main counter, and one-shot, periodic (LegacyReplacement) and
// level-triggered timer interrupts through the IOAPIC, run and recorded:
// replay recomputes every HPET read and re-injects every HPET interrupt.
// Exact lines from tests/guests/README.md.
#include <gtest/gtest.h>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

const char* const kAllPass = "SUMMARY: 14 tests, 0 failures\n";

bool has(const std::string& out, const std::string& line) {
  return out.find(line) != std::string::npos;
}

TEST(HpetGuest, TimersInterruptThroughTheIoapicAndLegacyRouting) {
  RRVM_REQUIRE_KVM();
  CliResult r = run_rrvm({"run", "--kernel", guest_path("hpet"), "--timeout", "60"});
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(has(r.out, "PASS: ACPI HPET table: timer block at 0xfed00000")) << r.out;
  EXPECT_TRUE(has(r.out, "PASS: periodic timer 0 in LegacyReplacement mode")) << r.out;
  EXPECT_TRUE(has(r.out, kAllPass)) << r.out;
}

TEST(HpetGuest, HpetOffLeavesNoTableAndNoDevice) {
  RRVM_REQUIRE_KVM();
  CliResult r =
      run_rrvm({"run", "--kernel", guest_path("hpet"), "--hpet", "off", "--timeout", "60"});
  ASSERT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "hpet: no ACPI HPET table\nSUMMARY: 0 tests, 0 failures\n");
}

// Under both clocks: with host time the counter's values come from the
// recorded clock reads; with virtual time from the replayed execution.
TEST(HpetGuest, RecordsAndReplaysItsReadsAndInterrupts) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir();
  for (std::string clock : {"host", "virtual"}) {
    std::string trace = dir + "/hpet-" + clock + ".rrt";
    CliResult rec = run_rrvm({"record", "-o", trace, "--clock", clock, "--kernel",
                              guest_path("hpet"), "--timeout", "60"});
    ASSERT_EQ(rec.status, 1) << clock << ": " << rec.out << rec.err;
    EXPECT_TRUE(has(rec.out, kAllPass)) << rec.out;
    CliResult rep = run_rrvm({"replay", trace});
    EXPECT_EQ(rep.status, 0) << clock << ": " << rep.err;
    EXPECT_TRUE(has(rep.err, "replay matched the recording")) << rep.err;
    EXPECT_EQ(rep.out, rec.out) << clock;
  }
}

}  // namespace
}  // namespace rrvm::test
