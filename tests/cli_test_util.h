// Running the rrvm CLI from a test and capturing what it prints: shared by
// the CLI tests in tests/unit/tools_*_test.cc (no KVM) and tests/kvm/.
#pragma once

#include <string>
#include <vector>

namespace rrvm::test {

struct CliResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
};
// Runs build/tools/rrvm with `args`, stdin from /dev/null.
CliResult run_rrvm(const std::vector<std::string>& args, int timeout_sec = 120);
// Runs any program (looked up in PATH), stdin from /dev/null; 127 if it
// cannot be started. `env` entries ("NAME=value") are added to the child's
// environment.
CliResult run_command(const std::vector<std::string>& argv, int timeout_sec = 120,
                      const std::vector<std::string>& env = {});

// A fresh temporary directory, removed at process exit.
std::string temp_dir();

}  // namespace rrvm::test
