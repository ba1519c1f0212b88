// The run loop with hand-assembled guests and test-local devices: dispatch,
// unmapped I/O, and each way a guest can die. No firmware, no board.
#include <gtest/gtest.h>

#include <vector>

#include "tests/kvm/kvm_test_util.h"
#include "vmm/cpu_model.h"
#include "vmm/guest_ram.h"
#include "vmm/kvm.h"
#include "vmm/vcpu_loop.h"
#include "vmm/x86_boot.h"

namespace rrvm {
namespace {

// Logs writes; a write to offset `exit_offset` stops the run with that value.
class PortLog final : public IoDevice {
 public:
  explicit PortLog(Board& b) : board_(b) {}
  std::string_view name() const override { return "portlog"; }
  void read(uint64_t, std::span<uint8_t> d) override { store_le(d, 0x5a); }
  void write(uint64_t off, std::span<const uint8_t> d) override {
    writes.push_back({off, load_le(d)});
    if (off == 0x74) board_.stop = RunResult{StopReason::kGuestExit, int(load_le(d)), "", 0};
  }
  std::vector<std::pair<uint64_t, uint64_t>> writes;

 private:
  Board& board_;
};

struct TinyVm {
  explicit TinyVm(std::vector<uint8_t> code, bool long_mode = false)
      : vm(kvm), ram(4 << 20), vcpu(kvm, vm, 0), log(board) {
    ram.attach(vm, false);
    vcpu.set_cpuid(rrvm64_cpuid(0));
    EXPECT_TRUE(ram.write(0x100000, code));
    if (long_mode) {
      enter_long_mode(vcpu, ram, 0x10000, 0x100000, 0);
    } else {
      enter_multiboot(vcpu, 0x100000, 0);
    }
    board.pio.add(0x80, 0x80, log);  // ports 0x80-0xff
  }
  RunResult run(LoopOptions opts = {}) {
    VcpuLoop loop(vcpu, ram, board, clock, opts);
    return loop.run();
  }
  Kvm kvm;
  KvmVm vm;
  GuestRam ram;
  KvmVcpu vcpu;
  HostClock clock;
  Board board;
  PortLog log;
};

TEST(VcpuLoop, DispatchesPortIoAndUnmappedReadsAllOnes) {
  RRVM_REQUIRE_KVM();
  TinyVm t({
      0xB0, 0x42,              // mov al, 0x42
      0xE6, 0x80,              // out 0x80, al
      0x66, 0xBA, 0x34, 0x12,  // mov dx, 0x1234
      0xEC,                    // in al, dx  (nothing there)
      0xE6, 0x81,              // out 0x81, al
      0xE4, 0x90,              // in al, 0x90 (the device: 0x5a)
      0xE6, 0x82,              // out 0x82, al
      0xB0, 0x07,              // mov al, 7
      0xE6, 0xF4,              // out 0xf4, al -> stop
      0xF4,                    // hlt (not reached)
  });
  RunResult r = t.run();
  EXPECT_EQ(r.reason, StopReason::kGuestExit) << r.message;
  EXPECT_EQ(r.status, 7);
  ASSERT_EQ(t.log.writes.size(), 4u);
  EXPECT_EQ(t.log.writes[0], (std::pair<uint64_t, uint64_t>{0x00, 0x42}));
  EXPECT_EQ(t.log.writes[1].second, 0xffu);
  EXPECT_EQ(t.log.writes[2].second, 0x5au);
  EXPECT_EQ(r.exits, 6u);  // one exit per port access
}

TEST(VcpuLoop, StrictIoMakesUnmappedAccessFatal) {
  RRVM_REQUIRE_KVM();
  TinyVm t({0x66, 0xBA, 0x34, 0x12, 0xEC, 0xF4});  // mov dx,0x1234; in al,dx; hlt
  RunResult r = t.run({.timeout_sec = 0, .strict_io = true});
  EXPECT_EQ(r.reason, StopReason::kUnmappedAccess);
  EXPECT_NE(r.message.find("0x1234"), std::string::npos) << r.message;
}

TEST(VcpuLoop, HltWithInterruptsDisabledIsReported) {
  RRVM_REQUIRE_KVM();
  TinyVm t({0xFA, 0xF4});  // cli; hlt
  RunResult r = t.run();
  EXPECT_EQ(r.reason, StopReason::kHaltedForever);
  EXPECT_NE(r.message.find("rip"), std::string::npos) << r.message;
}

TEST(VcpuLoop, TripleFaultIsReportedWithRegisters) {
  RRVM_REQUIRE_KVM();
  // lidt [idtr] with a zero limit, then ud2: #UD -> #GP -> #DF -> shutdown.
  TinyVm t({0x0F, 0x01, 0x1D, 0x10, 0x00, 0x10, 0x00,  // lidt [0x100010]
            0x0F, 0x0B,                                // ud2
            0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,  // pad to 0x100010
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00});      // idtr: limit 0, base 0
  RunResult r = t.run();
  EXPECT_EQ(r.reason, StopReason::kTripleFault) << r.message;
  EXPECT_NE(r.message.find("rip"), std::string::npos);
  EXPECT_NE(r.message.find("0f 0b"), std::string::npos) << r.message;
}

TEST(VcpuLoop, LongModeEntryRuns64BitCode) {
  RRVM_REQUIRE_KVM();
  TinyVm t(
      {
          0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // mov rax, imm64
          0x48, 0xC1, 0xE8, 0x38,                                      // shr rax, 56
          0xE6, 0x80,                                                  // out 0x80, al
          0xB0, 0x00, 0xE6, 0xF4,                                      // mov al,0; out 0xf4
      },
      true);
  RunResult r = t.run();
  EXPECT_EQ(r.reason, StopReason::kGuestExit) << r.message;
  ASSERT_FALSE(t.log.writes.empty());
  EXPECT_EQ(t.log.writes[0].second, 0x11u);
}

TEST(VcpuLoop, TimeoutStopsASpinningGuest) {
  RRVM_REQUIRE_KVM();
  TinyVm t({0xEB, 0xFE});  // jmp $
  RunResult r = t.run({.timeout_sec = 0.3, .strict_io = false});
  EXPECT_EQ(r.reason, StopReason::kTimeout) << r.message;
}

}  // namespace
}  // namespace rrvm
