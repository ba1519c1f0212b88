// Real gdb against the GDB server on a scripted history (tests/gdb/
// fake_gdb_target): the scripts in tests/gdb, each one behaviour, with the
// addresses of the fake's program as parameters. The replay tests run the
// same scripts against real traces.
#include <gtest/gtest.h>

#include <cstdlib>

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

// An ELF32 image with the fake program's symbols, linked like a Multiboot
// kernel converted to elf32-i386 (as the test guests are).
std::string elf32_with_symbols() {
  std::string dir = ::testing::TempDir() + "/gdb_fake_elf32";
  std::string src = R"(.text
.globl _start, loop
_start: .skip 0x39
loop: .skip 0x10
.data
.globl counter
counter: .long 0
)";
  std::string cmd = "mkdir -p " + dir + " && printf '%s' '" + src + "' > " + dir +
                    "/p.S && as --32 " + dir + "/p.S -o " + dir +
                    "/p.o && ld -m elf_i386 -Ttext=" + hex(kEntry) + " -Tdata=" + hex(kCounter) +
                    " " + dir + "/p.o -o " + dir + "/p.elf";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return dir + "/p.elf";
}

TEST(GdbWithFakeTarget, SymbolsOfAnElf32ImageWithTheX86_64Description) {
  // gdb takes i386 from the file; without <compatible>i386</compatible> in
  // target.xml it rejects the description and cannot read registers.
  GdbScriptResult r = run_gdb_script("breakpoints.py", RRVM_FAKE_GDB_TARGET,
                                     {{"loop", "(long)&loop"}, {"counter", "(long)&counter"}},
                                     elf32_with_symbols());
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("in loop ()"), std::string::npos) << "stops are shown by symbol";
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
