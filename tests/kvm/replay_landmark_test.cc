// Landmarks: a kicked guest's position, found again by breakpoint + state
// match in a second, identical VM.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "replay/dirty_tracker.h"
#include "replay/landmark.h"
#include "tests/kvm/kvm_test_util.h"
#include "vmm/cpu_model.h"
#include "vmm/guest_ram.h"
#include "vmm/kicker.h"
#include "vmm/x86_boot.h"

namespace rrvm {
namespace {

struct LoopVm {
  explicit LoopVm(const std::vector<uint8_t>& code) : vm(kvm), ram(4 << 20), vcpu(kvm, vm, 0) {
    ram.attach(vm, true);
    vcpu.set_cpuid(rrvm64_cpuid(0));
    EXPECT_TRUE(ram.write(0x100000, code));
    enter_long_mode(vcpu, ram, 0x10000, 0x100000, 0);
  }
  Kvm kvm;
  KvmVm vm;
  GuestRam ram;
  KvmVcpu vcpu;
};

// Runs `code` until a kick `after_us` microseconds in, and on with more
// kicks until `ran_enough` says the guest got far enough for the test (on
// a loaded host the vCPU may hardly have run in one period); returns the
// landmark where it stopped.
trace::LandmarkData record_landmark(const std::vector<uint8_t>& code, int after_us,
                                    const std::function<bool(LoopVm&)>& ran_enough = {}) {
  LoopVm v(code);
  DirtyTracker dirty(v.ram);
  dirty.reset();
  Kicker kicker(v.vcpu.run_area());
  for (int round = 0; round < 500; ++round) {
    kicker.arm(Kicker::monotonic_ns() + uint64_t(after_us) * 1000);
    EXPECT_FALSE(v.vcpu.run()) << "guest exited instead of being kicked";
    kicker.acknowledge();
    if (!ran_enough || ran_enough(v)) break;
  }
  return landmark_here(v.vcpu, dirty.digest());
}

uint64_t counter_at(LoopVm& v, uint64_t gpa) {
  uint64_t n = 0;
  EXPECT_TRUE(v.ram.read(gpa, {reinterpret_cast<uint8_t*>(&n), 8}));
  return n;
}

// A kick signal from the recording VM can still be in flight when the
// seeker starts (timer_delete does not recall a queued signal); seek() then
// returns kInterrupted and is simply called again, as the Replayer does.
SeekOutcome seek(LandmarkSeeker& seeker, const trace::LandmarkData& lm) {
  SeekOutcome o;
  do {
    o = seeker.seek(lm);
  } while (o == SeekOutcome::kInterrupted);
  return o;
}

TEST(Landmark, FoundAgainWhereRegistersAlreadyDiffer) {
  RRVM_REQUIRE_KVM();
  // loop: inc rbx; jmp loop — every iteration has a different rbx.
  std::vector<uint8_t> code = {0x48, 0xFF, 0xC3, 0xEB, 0xFB};
  trace::LandmarkData lm =
      record_landmark(code, 2000, [](LoopVm& v) { return v.vcpu.get_regs().rbx > 10; });
  ASSERT_GT(lm.gprs[1], 10u) << "the guest barely ran; the test proves nothing";

  LoopVm v(code);
  DirtyTracker dirty(v.ram);
  dirty.reset();
  LandmarkSeeker seeker(v.vcpu, dirty);
  ASSERT_EQ(seek(seeker, lm), SeekOutcome::kReached);
  EXPECT_TRUE(RegisterSnapshot::from(v.vcpu.get_regs()).same_state(RegisterSnapshot::from(lm)));
  EXPECT_GE(seeker.stats().hits, lm.gprs[1] / 2);
}

TEST(Landmark, MemoryDigestDisambiguatesIdenticalRegisters) {
  RRVM_REQUIRE_KVM();
  // loop: inc qword [0x200000]; jmp loop — registers repeat every iteration,
  // only memory tells the iterations apart.
  std::vector<uint8_t> code = {0x48, 0xFF, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00,  // inc qword [abs]
                               0xEB, 0xF6};                                     // jmp -10
  trace::LandmarkData lm =
      record_landmark(code, 2000, [](LoopVm& v) { return counter_at(v, 0x200000) > 5; });

  LoopVm v(code);
  DirtyTracker dirty(v.ram);
  dirty.reset();
  LandmarkSeeker seeker(v.vcpu, dirty);
  ASSERT_EQ(seek(seeker, lm), SeekOutcome::kReached);
  EXPECT_GT(counter_at(v, 0x200000), 5u);
  EXPECT_GT(seeker.stats().register_matches, 1u) << "registers alone would have stopped early";
  // The same counter value as the recording: state matched, not just RIP.
  EXPECT_EQ(dirty.digest(), lm.mem_digest);
}

TEST(Landmark, NaturalExitBeforeTheLandmarkIsReported) {
  RRVM_REQUIRE_KVM();
  std::vector<uint8_t> code = {0x48, 0xFF, 0xC3, 0xEB, 0xFB};
  trace::LandmarkData lm = record_landmark(code, 2000);
  // A different guest that does port I/O right away never reaches it.
  LoopVm v({0xE6, 0x80, 0xEB, 0xFC});
  DirtyTracker dirty(v.ram);
  LandmarkSeeker seeker(v.vcpu, dirty);
  EXPECT_EQ(seek(seeker, lm), SeekOutcome::kNaturalExit);
}

}  // namespace
}  // namespace rrvm
