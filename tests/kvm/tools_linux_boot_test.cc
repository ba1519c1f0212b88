// A stock Linux kernel under rrvm (issue 12, item 8): Debian's cloud kernel
// and a busybox initramfs (tests/linux/), fetched by tools/bootstrap.sh,
// booted with no guest command-line workaround to /init, which powers off
// through ACPI S5; the recording then replays. Labelled `long` and run only
// with RRVM_LONG_TESTS=1 (tools/run_tests.sh): on a host that runs guest
// ring 0 in KVM's instruction emulator (nested PVM, ~5 MIPS) one boot takes
// about 90 minutes (most of it the kernel's crypto self-tests).
//
// Linux reads the TSC (and RDRAND where CPUID offers it, as a nested host
// that passes its CPUID bits through does) from its decompressor on: KASLR
// offsets, sched_clock, printk times. KVM runs these without an exit, so
// no VMM records them (DESIGN.md, "What KVM cannot trap"): the replay
// either matches or must stop with a divergence report that names them.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

const std::string kLinuxDir = std::string(RRVM_BINARY_DIR) + "/linux";
constexpr int kBootTimeoutSec = 7200;

std::vector<std::string> boot_args() {
  return {"--kernel",  kLinuxDir + "/vmlinuz", "--initrd", kLinuxDir + "/initramfs.gz",
          "--cmdline", "console=ttyS0",        "--mem",    "256M"};
}

TEST(LinuxBoot, RecordReachesInitAndPowersOffThenReplays) {
  RRVM_REQUIRE_KVM();
  // Not a skip: on a machine with KVM, a missing guest would hide the test.
  ASSERT_TRUE(std::filesystem::exists(kLinuxDir + "/vmlinuz") &&
              std::filesystem::exists(kLinuxDir + "/initramfs.gz"))
      << "no Linux guest in " << kLinuxDir
      << ": run tools/bootstrap.sh (tests/linux/fetch.sh fetches it)";
  std::string trace = temp_dir() + "/linux.rrt";
  std::vector<std::string> rec = {"record", "-o", trace};
  for (const std::string& a : boot_args()) rec.push_back(a);
  CliResult r = run_rrvm(rec, kBootTimeoutSec);
  EXPECT_NE(r.out.find("rrvm-init: reached /init"), std::string::npos) << r.out << r.err;
  ASSERT_EQ(r.status, 0) << "expected an ACPI S5 power-off\n" << r.out << r.err;

  CliResult p = run_rrvm({"replay", trace}, kBootTimeoutSec);
  if (p.err.find("replay matched the recording") != std::string::npos) {
    EXPECT_EQ(p.status, 0) << p.err;
    EXPECT_EQ(p.out, r.out) << "the replayed console differs from the recorded one";
    return;
  }
  EXPECT_EQ(p.status, 1) << p.err;
  EXPECT_NE(p.err.find("replay diverged from the recording"), std::string::npos) << p.err;
  bool named =
      p.err.find(": rdtsc") != std::string::npos || p.err.find(": rdrand") != std::string::npos;
  EXPECT_TRUE(named) << "the divergence report names neither rdtsc nor rdrand:\n" << p.err;
}

}  // namespace
}  // namespace rrvm::test
