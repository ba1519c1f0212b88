// Forces a running vCPU out of KVM_RUN at a host-time deadline.
//
// A POSIX timer delivers a signal to the vCPU thread (the thread that armed
// it last: a vCPU may move between threads, as bisect's second side does
// when it replays ahead of the first on a thread of its own); the handler sets
// kvm_run.immediate_exit, so KVM_RUN returns EINTR whether the signal lands
// inside the guest or just before entry (the race immediate_exit exists for,
// Documentation/virt/kvm/api.rst, KVM_CAP_IMMEDIATE_EXIT). Registers after a
// kick are precise, which landmarks rely on.
#pragma once

#include <linux/kvm.h>
#include <time.h>

#include <atomic>
#include <cstdint>

namespace rrvm {

class Kicker {
 public:
  explicit Kicker(kvm_run* run);
  ~Kicker();
  Kicker(const Kicker&) = delete;
  Kicker& operator=(const Kicker&) = delete;

  // Arms the timer for CLOCK_MONOTONIC time `deadline_ns` (absolute), to
  // kick the calling thread; 0 disarms. Re-arming to the armed value from
  // the same thread is free.
  void arm(uint64_t deadline_ns);
  // Clears immediate_exit after a kicked KVM_RUN returned.
  void acknowledge();
  // Kicks from another thread (console input, SIGINT forwarding, bisect
  // stopping a side): the thread that armed the timer last.
  void kick_now();

  static uint64_t monotonic_ns();
  // CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID): for a
  // vCPU thread, mostly time inside KVM_RUN; time spent descheduled or
  // stopped does not count.
  static uint64_t thread_cpu_ns();

  // SIGINT/SIGTERM end the run cleanly: the handler records the signal and
  // kicks the vCPU; the run loop sees stop_signal() at its next turn.
  static void install_stop_signals();
  static int stop_signal();

 private:
  void create_timer(int tid);

  kvm_run* run_;
  timer_t timer_{};
  uint64_t armed_ = 0;
  std::atomic<int> tid_{0};
  int slot_ = -1;  // in the signal handler's table
};

}  // namespace rrvm
