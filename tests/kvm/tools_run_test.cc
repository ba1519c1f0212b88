// `rrvm run` as a user meets it: the bundled guests, and every kind of bad
// input getting a clear message and its documented exit status.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

std::string write_temp(const std::string& name, const std::string& bytes) {
  std::string path = temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(RunCli, HelloGuestPrintsAndExitsZero) {
  RRVM_REQUIRE_KVM();
  CliResult r = run_rrvm({"run", "--kernel", guest_path("hello"), "--timeout", "60"});
  EXPECT_EQ(r.status, 1) << r.err;  // guest writes 0 to port 0xf4 -> (0 << 1) | 1
  EXPECT_NE(r.out.find("hello from rrvm guest"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
}

TEST(RunCli, PitGuestCountsTicksThroughThePic) {
  RRVM_REQUIRE_KVM();
  CliResult r = run_rrvm({"run", "--kernel", guest_path("pit"), "--timeout", "120"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("pit: 100 ticks"), std::string::npos) << r.out;
}

TEST(RunCli, TripleFaultExits70WithRegisterDump) {
  RRVM_REQUIRE_KVM();
  CliResult r = run_rrvm({"run", "--kernel", guest_path("fault"), "--timeout", "60"});
  EXPECT_EQ(r.status, 70);
  EXPECT_NE(r.out.find("fault: about to triple fault"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("triple"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rip"), std::string::npos) << r.err;
}

TEST(RunCli, Ring3BusyLoopReturnsToRing0) {
  RRVM_REQUIRE_KVM();
  CliResult r = run_rrvm({"run", "--kernel", guest_path("ring3"), "--timeout", "120"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("ring3: back in ring 0"), std::string::npos) << r.out;
}

TEST(RunCli, SpinningGuestHitsTimeout) {
  RRVM_REQUIRE_KVM();
  CliResult r = run_rrvm({"run", "--kernel", guest_path("spin"), "--timeout", "0.5"});
  EXPECT_EQ(r.status, 124) << r.err;
  EXPECT_NE(r.out.find("spin: spinning forever"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("timeout"), std::string::npos) << r.err;
}

TEST(RunCli, MissingKernelExits66) {
  CliResult r = run_rrvm({"run", "--kernel", "/nonexistent/kernel.elf"});
  EXPECT_EQ(r.status, 66);
  EXPECT_NE(r.err.find("rrvm: error: cannot read /nonexistent/kernel.elf"), std::string::npos)
      << r.err;
}

TEST(RunCli, NonElfKernelExits65) {
  RRVM_REQUIRE_KVM();
  std::string path = write_temp("notelf.bin", std::string(4096, 'x'));
  CliResult r = run_rrvm({"run", "--kernel", path});
  EXPECT_EQ(r.status, 65) << r.err;
  EXPECT_NE(r.err.find("rrvm: error:"), std::string::npos) << r.err;
}

TEST(RunCli, BadMultibootChecksumExits65) {
  RRVM_REQUIRE_KVM();
  // magic, flags (a.out kludge bit 16), wrong checksum.
  std::string img(8192, '\0');
  const uint32_t hdr[3] = {0x1BADB002, 0x00010000, 0x12345678};
  std::memcpy(img.data(), hdr, sizeof hdr);
  CliResult r = run_rrvm({"run", "--kernel", write_temp("badsum.bin", img)});
  EXPECT_EQ(r.status, 65) << r.err;
  EXPECT_NE(r.err.find("checksum"), std::string::npos) << r.err;
}

TEST(RunCli, UsageErrorsExit64) {
  EXPECT_EQ(run_rrvm({"run"}).status, 64);                                    // no --kernel
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--bogus"}).status, 64);        // unknown option
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--mem", "12Q"}).status, 64);   // bad size
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--mem", "1M"}).status, 64);    // too small
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--mem", "999G"}).status, 64);  // absurd
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--mptable", "foo"}).status, 64);
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--acpi", "off", "--acpi-pic", "on"}).status, 64);
  EXPECT_EQ(run_rrvm({"frobnicate"}).status, 64);
  CliResult r = run_rrvm({"run", "--kernel", "x", "--mem", "12Q"});
  EXPECT_NE(r.err.find("rrvm: error:"), std::string::npos) << r.err;
}

TEST(RunCli, HelpExplainsAndExitsZero) {
  CliResult r = run_rrvm({"run", "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--kernel"), std::string::npos);
  EXPECT_NE(r.out.find("exit status"), std::string::npos) << r.out;
  CliResult top = run_rrvm({"--help"});
  EXPECT_EQ(top.status, 0);
  EXPECT_NE(top.out.find("run"), std::string::npos);
}

}  // namespace
}  // namespace rrvm::test
