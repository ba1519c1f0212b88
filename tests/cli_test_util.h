// Running the rrvm CLI from a test and capturing what it prints: shared by
// the CLI tests in tests/unit/tools_*_test.cc (no KVM) and tests/kvm/.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rrvm::test {

struct CliResult {
  int status = -1;  // exit status, or 128 + signal
  int signal = 0;   // the signal that ended it (SIGKILL at the time limit)
  bool timed_out = false;
  bool over_resident = false;  // killed for its resident set (CliLimits::resident)
  double seconds = 0;          // wall-clock time
  uint64_t max_rss = 0;        // peak resident memory, bytes
  std::string out, err;
};

// Bounds for the child: RLIMIT_AS (ignored when the test itself runs under
// AddressSanitizer, as then rrvm does too and its shadow memory needs
// terabytes of address space) and a time limit, then SIGKILL.
// `resident` bounds what the child holds in memory, which RLIMIT_AS does
// not (a VMM's guest RAM is address space, resident only where the guest
// touched it): the child is killed once its resident set, sampled every
// 200 ms while it runs, exceeds it (also ignored under AddressSanitizer).
struct CliLimits {
  int timeout_sec = 120;
  uint64_t address_space = 0;  // bytes; 0: no limit
  uint64_t resident = 0;       // bytes; 0: no limit
};

// Whether this test binary is built with AddressSanitizer.
bool under_asan();

// Runs build/tools/rrvm with `args`, stdin from /dev/null.
CliResult run_rrvm(const std::vector<std::string>& args, int timeout_sec = 120);
CliResult run_rrvm(const std::vector<std::string>& args, const CliLimits& limits);
// Runs any program (looked up in PATH), stdin from /dev/null; 127 if it
// cannot be started. `env` entries ("NAME=value") are added to the child's
// environment.
CliResult run_command(const std::vector<std::string>& argv, int timeout_sec = 120,
                      const std::vector<std::string>& env = {});
CliResult run_command(const std::vector<std::string>& argv, const CliLimits& limits,
                      const std::vector<std::string>& env = {});

// A fresh temporary directory, removed at process exit.
std::string temp_dir();

// Whether `text` parses as JSON (one document, or one per line) according
// to `python3 -m json.tool`; a failure carries python's complaint.
::testing::AssertionResult parses_as_json(const std::string& text, bool lines = false);
// The top-level member names of the JSON object `text`, sorted and
// space-separated, by python3 ("(not JSON: ...)" otherwise).
std::string json_keys(const std::string& text);

}  // namespace rrvm::test
