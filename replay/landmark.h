// Landmarks: the position of an asynchronous event (an interrupt injected
// after a kick or an interrupt-window exit) that no exit ordinal names.
// A landmark is (previous exit ordinal, RIP, all GPRs, RFLAGS, digest of the
// pages dirtied since the last sync point). Replay finds it with a hardware
// breakpoint at RIP and accepts the first hit whose registers and dirty-page
// digest both match (DESIGN.md, Determinism model, 3).
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <string>

#include "replay/debug_registers.h"
#include "replay/dirty_tracker.h"
#include "trace/event.h"
#include "vmm/vcpu.h"

namespace rrvm {

// kvm_regs order: rax rbx rcx rdx rsi rdi rsp rbp r8..r15.
struct RegisterSnapshot {
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0;
  uint64_t rflags = 0;

  static RegisterSnapshot from(const kvm_regs& r);
  static RegisterSnapshot from(const trace::LandmarkData& lm);
  // Equality ignoring RFLAGS.RF (bit 16), which the debug machinery sets.
  bool same_state(const RegisterSnapshot& o) const;
  uint64_t digest() const;
  // "rax 0x.. vs 0x..; rip ..." for the registers that differ.
  std::string diff(const RegisterSnapshot& other) const;
};

// The landmark of where the vCPU stands now (stopped by a kick or an
// interrupt-window exit); `mem_digest` digests the pages written since the
// last sync point. The exit ordinal is the event's.
trace::LandmarkData landmark_here(Vcpu& vcpu, uint64_t mem_digest);

enum class SeekOutcome {
  kReached,         // vCPU stopped exactly at the landmark, breakpoint disarmed
  kNaturalExit,     // the guest made a natural exit first: the run area holds it
  kInterrupted,     // KVM_RUN was kicked (watchdog/signal); call seek again
  kGuestError,      // any other exit (shutdown, emulation failure)
  kUserBreakpoint,  // a debugger's breakpoint (set_user) hit first; seek again to go on
};

struct SeekStats {
  uint64_t hits = 0;              // breakpoint hits examined
  uint64_t register_matches = 0;  // hits whose registers matched
  uint64_t steps = 0;             // single-steps taken to get past non-matching hits
};

class LandmarkSeeker {
 public:
  LandmarkSeeker(Vcpu& vcpu, DirtyTracker& dirty) : vcpu_(vcpu), dirty_(dirty) {}
  SeekOutcome seek(const trace::LandmarkData& lm);
  // Whether the vCPU stands exactly on `lm` now (registers and pages).
  bool stands_on(const trace::LandmarkData& lm);
  const SeekStats& stats() const { return stats_; }
  // A debugger's breakpoints, armed alongside the seeker's (null: none).
  void set_user(const UserDebugRegs* user) { user_ = user; }

 private:
  void arm(uint64_t rip);
  void disarm();
  bool matches(const trace::LandmarkData& lm);
  SeekOutcome step_over();

  Vcpu& vcpu_;
  DirtyTracker& dirty_;
  const UserDebugRegs* user_ = nullptr;
  SeekStats stats_;
};

}  // namespace rrvm
