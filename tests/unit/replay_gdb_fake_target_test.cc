// Real gdb against the GDB server on a scripted history (tests/gdb/
// fake_gdb_target): the scripts in tests/gdb, each one behaviour, with the
// addresses of the fake's program as parameters. The replay tests run the
// same scripts against real traces.
#include <gtest/gtest.h>

#include "devices/hex.h"
#include "tests/gdb/gdb_script.h"
#include "tests/gdb/history_target.h"

namespace rrvm::testing {
namespace {

const std::map<std::string, std::string> kParams = {
    {"loop", hex(kLoop)},
    {"counter", hex(kCounter)},
    {"exit_code", std::to_string(kExitStatus)},
};

void expect_script_passes(const std::string& script, const std::string& fake_args = "") {
  GdbScriptResult r =
      run_gdb_script(script, std::string(RRVM_FAKE_GDB_TARGET) + fake_args, kParams);
  EXPECT_TRUE(r.ok()) << script << ": gdb status " << r.status << ", " << r.passed << " passed, "
                      << r.failed << " failed\n"
                      << r.output;
}

TEST(GdbWithFakeTarget, StepAndReverseStepVisitTheSameStates) {
  expect_script_passes("step.py");
}

TEST(GdbWithFakeTarget, StdoutOfTheServerGoesToStderrNotIntoTheProtocol) {
  // The fake prints its "guest console" on stdout at every resume; with
  // --gdb - that must land on stderr (gdb's terminal) and not corrupt the
  // packets.
  GdbScriptResult r = run_gdb_script("step.py", RRVM_FAKE_GDB_TARGET, kParams);
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("fake guest console: resumed at position 4"), std::string::npos)
      << r.output;
}

TEST(GdbWithFakeTarget, BreakpointsForwardAndReverse) {
  expect_script_passes("breakpoints.py");
}
TEST(GdbWithFakeTarget, WatchpointStopsAtTheWritingInstruction) {
  expect_script_passes("watch.py");
}
TEST(GdbWithFakeTarget, RegistersAndMemory) {
  expect_script_passes("registers.py");
}
TEST(GdbWithFakeTarget, ReverseToTheStartOfHistory) {
  expect_script_passes("history_start.py");
}
TEST(GdbWithFakeTarget, ContinueToTheEndOfATruncatedTrace) {
  expect_script_passes("history_end.py", " --truncated");
}
TEST(GdbWithFakeTarget, ContinueToTheGuestsExit) {
  expect_script_passes("exit.py");
}
TEST(GdbWithFakeTarget, MonitorCommands) {
  expect_script_passes("monitor.py");
}
TEST(GdbWithFakeTarget, WritesAreRefused) {
  expect_script_passes("readonly.py");
}
TEST(GdbWithFakeTarget, CodeShowsRightIn32And64BitMode) {
  expect_script_passes("mode.py");
}
TEST(GdbWithFakeTarget, CtrlCStopsAnEndlessContinue) {
  expect_script_passes("interrupt.py", " --endless");
}

}  // namespace
}  // namespace rrvm::testing
