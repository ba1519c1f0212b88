// Shared helpers for the KVM tests: skip with a reason when /dev/kvm is not
// usable, locate the built guests, run the rrvm CLI and capture its output.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rrvm::test {

// Empty when /dev/kvm can be opened and a VM created; otherwise why not.
std::string kvm_unusable_reason();

#define RRVM_REQUIRE_KVM()                                         \
  do {                                                             \
    std::string why_ = ::rrvm::test::kvm_unusable_reason();        \
    if (!why_.empty()) GTEST_SKIP() << "KVM not usable: " << why_; \
  } while (0)

// Path of a built test guest (tests/guests/<name>.elf).
std::string guest_path(const std::string& name);

struct CliResult {
  int status = -1;  // exit status, or 128 + signal
  std::string out, err;
};
// Runs build/tools/rrvm with `args`, stdin from /dev/null.
CliResult run_rrvm(const std::vector<std::string>& args, int timeout_sec = 120);
// Runs any program (looked up in PATH), stdin from /dev/null; 127 if it
// cannot be started.
CliResult run_command(const std::vector<std::string>& argv, int timeout_sec = 120);

// A fresh temporary directory, removed at process exit.
std::string temp_dir();

}  // namespace rrvm::test
