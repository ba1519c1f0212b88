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
  // The vCPU was kicked out of a stretch with no exits.
  virtual void on_kick() {}
  // The guest halted until `guest_ns`. True if the clock simply moved there
  // (virtual time); false if the caller must wait in host time.
  virtual bool skip_to(uint64_t guest_ns) {
    (void)guest_ns;
    return false;
  }
  // Whether skip_to() moves time (virtual clocks) rather than refusing.
  virtual bool can_skip() const { return false; }
};

class HostClock final : public LoopClock {
 public:
  HostClock() : start_(Kicker::monotonic_ns()) {}
  uint64_t now_ns() override { return Kicker::monotonic_ns() - start_; }
  uint64_t host_time(uint64_t guest_ns) override { return start_ + guest_ns; }

 private:
  uint64_t start_;
};

// Guest time from the execution (--clock virtual): every natural exit takes
// kExitNs, HLT jumps straight to the next timer deadline, and only a guest
// that spins without exits advances with host time (at kicks), which is the
// one nondeterministic part. A guest that waits through I/O or HLT sees the
// same times in every run, so its recordings are identical.
class VirtualClock final : public LoopClock {
 public:
  static constexpr uint64_t kExitNs = 1000;  // about one port access on real hardware
  // A guest that makes no exit for this long (host time) is kicked so that
  // its timers can still fire; a guest that exits or halts sooner never is.
  static constexpr uint64_t kSpinKickNs = 10'000'000;

  VirtualClock() : last_host_(Kicker::monotonic_ns()) {}
  uint64_t now_ns() override { return now_; }
  uint64_t host_time(uint64_t guest_ns) override {
    (void)guest_ns;
    return last_host_ + kSpinKickNs;
  }
  void on_exit() override {
    now_ += kExitNs;
    last_host_ = Kicker::monotonic_ns();
  }
  void on_kick() override {
    uint64_t host = Kicker::monotonic_ns();
    now_ += host - last_host_;
    last_host_ = host;
  }
  bool can_skip() const override { return true; }
  bool skip_to(uint64_t guest_ns) override {
    if (guest_ns > now_) now_ = guest_ns;
    last_host_ = Kicker::monotonic_ns();
    return true;
  }

 private:
  uint64_t now_ = 0;
  uint64_t last_host_;
};

}  // namespace rrvm
