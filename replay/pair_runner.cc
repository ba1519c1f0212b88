#include "replay/pair_runner.h"

#include <immintrin.h>
#include <time.h>

namespace rrvm {

namespace {

// How long a waiting thread spins before it sleeps: about two single-steps.
// Longer hurts on a busy host: a spinning thread holds the core the other
// one needs to finish.
constexpr uint64_t kSpinNs = 20'000;

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

// Until `counter` reaches `want`: spinning, then asleep in a futex.
void await(const std::atomic<uint64_t>& counter, uint64_t want) {
  uint64_t deadline = 0;
  for (unsigned i = 0;; ++i) {
    uint64_t seen = counter.load(std::memory_order_acquire);
    if (seen >= want) return;
    if (i % 64 == 0) {
      uint64_t t = now_ns();
      if (!deadline) deadline = t + kSpinNs;
      if (t >= deadline) {
        counter.wait(seen, std::memory_order_acquire);
        continue;
      }
    }
    _mm_pause();
  }
}

}  // namespace

void PairPacing::ran_at_once(uint64_t own_ns, uint64_t all_ns) {
  own_ns_ += own_ns;
  all_ns_ += all_ns;
  if (++calls_ < kWindow) return;
  // One after the other would take about twice the own half.
  at_once_ = double(all_ns_) < kWorth * double(own_ns_);
  calls_ = 0;
  own_ns_ = all_ns_ = 0;
}

void PairPacing::ran_serially() {
  if (++calls_ < kSerialRun) return;
  at_once_ = true;  // try again: the host may have a free core by now
  calls_ = 0;
}

PairRunner::PairRunner() : thread_([this] { serve(); }) {}

PairRunner::~PairRunner() {
  stop_ = true;
  posted_.fetch_add(1, std::memory_order_release);
  posted_.notify_one();
  thread_.join();
}

void PairRunner::serve() {
  for (uint64_t job = 1;; ++job) {
    await(posted_, job);
    if (stop_) return;
    try {
      call_(job_, 1);
    } catch (...) {
      error_ = std::current_exception();
    }
    done_.store(job, std::memory_order_release);
    done_.notify_one();
  }
}

void PairRunner::run(Call call, void* f) {
  if (!pacing_.at_once()) {
    call(f, 0);
    call(f, 1);
    pacing_.ran_serially();
    return;
  }
  uint64_t t0 = now_ns();
  call_ = call;
  job_ = f;
  error_ = nullptr;
  uint64_t job = posted_.load(std::memory_order_relaxed) + 1;
  posted_.store(job, std::memory_order_release);
  posted_.notify_one();
  std::exception_ptr mine;
  try {
    call(f, 0);
  } catch (...) {
    mine = std::current_exception();
  }
  uint64_t t1 = now_ns();
  await(done_, job);  // even when side 0 threw: side 1's job uses f
  pacing_.ran_at_once(t1 - t0, now_ns() - t0);
  if (mine) std::rethrow_exception(mine);
  if (error_) std::rethrow_exception(error_);
}

}  // namespace rrvm
