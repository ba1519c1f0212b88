// Real gdb against `rrvm replay TRACE --gdb -` on a trace of the pit guest
// (tests/guests/pit.c: HLT-driven IRQ0 at 1 kHz; on_tick increments the
// global `ticks`): the scripts in tests/gdb, the same ones the scripted
// fake target passes, now on a replaying KVM machine.
#include <gtest/gtest.h>

#include "tests/gdb/gdb_script.h"
#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

class GdbOnReplay : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!kvm_unusable_reason().empty()) return;
    trace_ = new std::string(temp_dir() + "/pit.rrt");
    CliResult r = run_rrvm({"record", "-o", *trace_, "--serial", "none", "--kernel",
                            guest_path("pit"), "--clock", "virtual"});
    ASSERT_EQ(r.status, 1) << "pit exits with status 1 (all passed): " << r.err;
  }

  // Checkpoints every 100 exits: a trace of ~800 exits has several, so
  // reverse execution restores ones other than the start.
  static std::string server() {
    return std::string(RRVM_EXE) + " replay " + *trace_ + " --gdb - --checkpoint-every 100";
  }

  void expect_passes(const std::string& script, std::map<std::string, std::string> params = {}) {
    testing::GdbScriptResult r = testing::run_gdb_script(
        script, server(), params, guest_path("pit") + "64", /*timeout_s=*/120);
    EXPECT_TRUE(r.ok()) << script << ": gdb status " << r.status << ", " << r.passed << " passed, "
                        << r.failed << " failed\n"
                        << r.output;
  }

  static std::string* trace_;
};
std::string* GdbOnReplay::trace_ = nullptr;

const std::map<std::string, std::string> kTick = {{"loop", "(long)&on_tick"}};
const std::map<std::string, std::string> kTicks = {{"counter", "(long)&ticks"}};

TEST_F(GdbOnReplay, StepiThenReverseStepiVisitsTheSameStates) {
  RRVM_REQUIRE_KVM();
  expect_passes("step.py", {{"steps", "6"}});
}

TEST_F(GdbOnReplay, ReverseStepiCrossesBackOverAnExit) {
  RRVM_REQUIRE_KVM();
  expect_passes("reverse_exit.py", {{"seek_exit", "250"}});
}

TEST_F(GdbOnReplay, BreakAtASymbolContinueAndReverseContinue) {
  RRVM_REQUIRE_KVM();
  expect_passes("breakpoints.py", kTick);
}

TEST_F(GdbOnReplay, WatchpointStopsAtTheWritingInstructionBothWays) {
  RRVM_REQUIRE_KVM();
  expect_passes("watch.py", kTicks);
}

TEST_F(GdbOnReplay, RegistersAndAGlobal) {
  RRVM_REQUIRE_KVM();
  expect_passes("registers.py", kTicks);
}

TEST_F(GdbOnReplay, PastTheStartIsNoMoreHistory) {
  RRVM_REQUIRE_KVM();
  expect_passes("history_start.py");
}

TEST_F(GdbOnReplay, MonitorCommands) {
  RRVM_REQUIRE_KVM();
  expect_passes("monitor.py");
}

TEST_F(GdbOnReplay, ContinueToTheGuestsExit) {
  RRVM_REQUIRE_KVM();
  expect_passes("exit.py", {{"exit_code", "1"}});
}

TEST_F(GdbOnReplay, CodeShowsRightIn32And64BitMode) {
  RRVM_REQUIRE_KVM();
  expect_passes("mode.py", kTick);
}

// A replay that ends before the guest does (--until, as a trace cut off by
// SIGKILL ends): continue stops there with "No more reverse-execution
// history", reverse-stepi moves back from it, continue returns to it.
TEST_F(GdbOnReplay, ContinueStopsWhereTheReplayEnds) {
  RRVM_REQUIRE_KVM();
  testing::GdbScriptResult g =
      testing::run_gdb_script("history_end.py", server() + " --until 300", {}, "", 120);
  EXPECT_TRUE(g.ok()) << g.output;
}

}  // namespace
}  // namespace rrvm::test
