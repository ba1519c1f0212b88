// The run loop's clocks. Guest time starts at zero at power-on; where it
// comes from is the clock mode (--clock): the host's monotonic clock, or a
// virtual clock derived from the execution itself.
#pragma once

#include "devices/clock.h"
#include "vmm/kicker.h"

namespace rrvm {

class LoopClock : public Clock {
 public:
  // The host CLOCK_MONOTONIC time at which to kick the vCPU so that guest
  // time has reached `guest_ns` by then.
  virtual uint64_t host_time(uint64_t guest_ns) = 0;
  // A natural exit is about to be handled.
  virtual void on_exit() {}
  // The vCPU was kicked out of KVM_RUN without an exit (the kick timer, a
  // stray signal). True if guest time moved on, so timers and interrupts
  // get their turn; false if the kick must leave no trace in the guest.
  virtual bool on_kick() { return true; }
  // The guest halted until `guest_ns`. True if the clock simply moved there
  // (virtual time); false if the caller must wait in host time.
  virtual bool skip_to(uint64_t guest_ns) {
    (void)guest_ns;
    return false;
  }
  // Whether skip_to() moves time (virtual clocks) rather than refusing.
  virtual bool can_skip() const { return false; }
  // Machine checkpoints: guest time continues from `guest_ns` (a value
  // now_ns() returned), whatever the host clock did meanwhile.
  virtual void restore(uint64_t guest_ns) = 0;
};

class HostClock final : public LoopClock {
 public:
  HostClock() : start_(Kicker::monotonic_ns()) {}
  uint64_t now_ns() override { return Kicker::monotonic_ns() - start_; }
  uint64_t host_time(uint64_t guest_ns) override { return start_ + guest_ns; }
  void restore(uint64_t guest_ns) override { start_ = Kicker::monotonic_ns() - guest_ns; }

 private:
  uint64_t start_;
};

// Guest time from the execution (--clock virtual): every natural exit takes
// kExitNs and HLT jumps straight to the next timer deadline, so a guest that
// waits through I/O or HLT sees the same times in every run, whatever the
// host does meanwhile (load, stalls, the recorder being stopped).
//
// Only a guest that spins (runs kSpinNs of CPU time without a natural exit)
// moves time on by itself, kSpinNs at a time, so that its timers still
// fire. Where those kicks land is the host's timing: that part is not
// reproducible, and a trace records it (landmarks). Host time never counts:
// the vCPU is kicked at host-time intervals, but each kick measures the CPU
// time the vCPU thread used since the previous one (a descheduled, stalled
// or stopped thread uses none), and any natural exit in between restarts
// the count. A kick that finds no whole kSpinNs is invisible to the guest.
class VirtualClock final : public LoopClock {
 public:
  static constexpr uint64_t kExitNs = 1000;  // about one port access on real hardware
  static constexpr uint64_t kSpinNs = 10'000'000;

  // `cpu_ns`: the vCPU thread's CPU time (replaceable for tests).
  explicit VirtualClock(uint64_t (*cpu_ns)() = Kicker::thread_cpu_ns)
      : cpu_ns_(cpu_ns), check_at_(Kicker::monotonic_ns() + kSpinNs) {}
  uint64_t now_ns() override { return now_; }
  // The next spin check, whatever the deadline: a guest that exits or halts
  // before it never notices.
  uint64_t host_time(uint64_t guest_ns) override {
    (void)guest_ns;
    return check_at_;
  }
  void on_exit() override {
    now_ += kExitNs;
    exited_ = true;
  }
  bool on_kick() override {
    uint64_t cpu = cpu_ns_();
    spun_ = exited_ ? 0 : spun_ + (cpu - cpu_at_check_);
    exited_ = false;
    cpu_at_check_ = cpu;
    uint64_t quanta = spun_ / kSpinNs;
    spun_ -= quanta * kSpinNs;
    now_ += quanta * kSpinNs;
    check_at_ = Kicker::monotonic_ns() + (kSpinNs - spun_);
    return quanta > 0;
  }
  bool can_skip() const override { return true; }
  bool skip_to(uint64_t guest_ns) override {
    if (guest_ns > now_) now_ = guest_ns;
    return true;
  }
  // A checkpoint is at a natural exit: the spin count starts afresh.
  void restore(uint64_t guest_ns) override {
    now_ = guest_ns;
    spun_ = 0;
    exited_ = true;
    check_at_ = Kicker::monotonic_ns() + kSpinNs;
  }

 private:
  uint64_t (*cpu_ns_)();
  uint64_t now_ = 0;
  uint64_t check_at_;          // CLOCK_MONOTONIC time of the next spin check
  uint64_t cpu_at_check_ = 0;  // the thread's CPU time then
  uint64_t spun_ = 0;          // CPU time run without an exit, not yet guest time
  bool exited_ = true;         // a natural exit since the last check
};

}  // namespace rrvm
