// Shared helpers for the KVM tests: skip with a reason when /dev/kvm is not
// usable, locate the built guests; running the rrvm CLI is tests/cli_test_util.h.
#pragma once

#include <gtest/gtest.h>

#include "tests/cli_test_util.h"

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

}  // namespace rrvm::test
