// Differential tests: the same guest image under QEMU (TCG, QEMU's own device
// models) and under rrvm must print the same serial output. A difference
// points at a device-model bug on one side.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

// Drops lines that legitimately differ (QEMU passes the kernel path as the
// Multiboot command line; rrvm passes --cmdline).
std::string comparable(const std::string& out) {
  std::istringstream in(out);
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.rfind("cmdline:", 0) == 0) continue;
    kept += line + "\n";
  }
  return kept;
}

struct DiffCase {
  const char* guest;
  int qemu_status, rrvm_status;  // they differ only where QEMU cannot say (triple fault)
  const char* qemu_machine = "pc";
};

class QemuDiff : public ::testing::TestWithParam<DiffCase> {};

TEST_P(QemuDiff, SerialOutputMatchesQemu) {
  RRVM_REQUIRE_KVM();
  std::string guest = guest_path(GetParam().guest);
  CliResult qemu =
      run_command({"qemu-system-x86_64", "-M", GetParam().qemu_machine, "-accel", "tcg", "-kernel",
                   guest, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-serial", "stdio",
                   "-display", "none", "-no-reboot", "-m", "64", "-nodefaults"},
                  180);
  if (qemu.status == 127) GTEST_SKIP() << "qemu-system-x86_64 is not installed (reference only)";
  CliResult rrvm = run_rrvm({"run", "--kernel", guest, "--mem", "64M", "--timeout", "120"});
  EXPECT_EQ(qemu.status, GetParam().qemu_status) << qemu.err;
  EXPECT_EQ(rrvm.status, GetParam().rrvm_status) << rrvm.err;
  EXPECT_EQ(comparable(rrvm.out), comparable(qemu.out));
  EXPECT_FALSE(comparable(rrvm.out).empty());
}

// QEMU -no-reboot exits 0 on a triple fault; rrvm reports it as a crash (70).
// The hpet guest runs on QEMU's q35, whose HPET timers route to IOAPIC
// inputs 16-23 as rrvm's do (pc's only to IRQ2).
INSTANTIATE_TEST_SUITE_P(Guests, QemuDiff,
                         ::testing::Values(DiffCase{"hello", 1, 1}, DiffCase{"pit", 1, 1},
                                           DiffCase{"ring3", 1, 1}, DiffCase{"iobench", 1, 1},
                                           DiffCase{"fault", 0, 70}, DiffCase{"hpet", 1, 1, "q35"}),
                         [](const auto& info) { return std::string(info.param.guest); });

}  // namespace
}  // namespace rrvm::test
