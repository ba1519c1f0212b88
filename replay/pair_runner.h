// Runs a job for two machines at once when that pays: bisect single-steps
// its two sides (independent VMs) one instruction at a time, ~8 us of KVM
// each, and compares them after every step.
//
// Side 0 runs on the calling thread, side 1 on a thread this object owns.
// Handing a job over takes a few microseconds while the other thread spins
// on a free core, but on a busy host (both cores taken by other work) each
// handover waits for the scheduler and costs far more than the step itself
// (measured here: 170 us per stepped pair against 20 us one after the
// other). So the runner measures: a window of calls at once, and while they
// do not beat running both halves on the calling thread, the halves run
// there, one after the other, with a new try now and then (PairPacing).
// A vCPU may move between the two threads: KVM only notes the new thread,
// and the replayer's stall kicker follows the thread that arms it.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <type_traits>

namespace rrvm {

// When to run a pair at once: fed, for each call made at once, the time the
// calling thread's half took and the time the call took in all.
class PairPacing {
 public:
  static constexpr int kWindow = 32;       // calls at once per verdict
  static constexpr double kWorth = 1.8;    // at once pays when all < this x the own half
  static constexpr int kSerialRun = 8192;  // calls one after the other before a new try

  bool at_once() const { return at_once_; }
  void ran_at_once(uint64_t own_ns, uint64_t all_ns);
  void ran_serially();

 private:
  bool at_once_ = true;
  int calls_ = 0;
  uint64_t own_ns_ = 0, all_ns_ = 0;
};

class PairRunner {
 public:
  PairRunner();
  ~PairRunner();
  PairRunner(const PairRunner&) = delete;
  PairRunner& operator=(const PairRunner&) = delete;

  // f(0) and f(1), at once (f(1) on the other thread) or one after the
  // other here, as PairPacing says; returns when both are done. An
  // exception from either is rethrown (side 0's first; one after the
  // other, f(1) does not run once f(0) threw).
  template <typename F>
  void both(F&& f) {
    run(&call<std::remove_reference_t<F>>, &f);
  }
  const PairPacing& pacing() const { return pacing_; }

 private:
  using Call = void (*)(void*, int);
  template <typename F>
  static void call(void* f, int side) {
    (*static_cast<F*>(f))(side);
  }
  void run(Call call, void* f);
  void serve();

  PairPacing pacing_;
  std::atomic<uint64_t> posted_{0}, done_{0};
  Call call_ = nullptr;
  void* job_ = nullptr;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once the fields above exist
};

}  // namespace rrvm
