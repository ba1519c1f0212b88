#include "vmm/kicker.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rrvm {

namespace {

// Run areas of the vCPUs with a Kicker, and the thread each runs on (the
// one that armed its timer last). A kick stops the vCPUs of the thread it
// signals (bisect steps two VMs from one thread: both); SIGINT/SIGTERM
// stop all of them.
constexpr int kMaxRuns = 4;
struct KickedRun {
  std::atomic<kvm_run*> run;
  std::atomic<int> tid;
};
KickedRun g_kicked_runs[kMaxRuns];

int kick_signal() {
  return SIGRTMIN + 3;
}

std::atomic<int> g_stop_signal{0};

int current_tid() {
  static thread_local int tid = static_cast<int>(::syscall(SYS_gettid));
  return tid;
}

void kick_runs(bool all) {
  int me = static_cast<int>(::syscall(SYS_gettid));  // async-signal-safe
  for (auto& slot : g_kicked_runs) {
    kvm_run* run = slot.run.load(std::memory_order_relaxed);
    if (run && (all || slot.tid.load(std::memory_order_relaxed) == me)) run->immediate_exit = 1;
  }
}

void on_kick(int) {
  kick_runs(false);
}

void on_stop(int sig) {
  g_stop_signal.store(sig, std::memory_order_relaxed);
  kick_runs(true);
}

}  // namespace

Kicker::Kicker(kvm_run* run) : run_(run) {
  struct sigaction sa {};
  sa.sa_handler = on_kick;
  sigemptyset(&sa.sa_mask);
  if (sigaction(kick_signal(), &sa, nullptr) != 0) {
    throw std::runtime_error(std::string("sigaction: ") + std::strerror(errno));
  }
  for (int i = 0; i < kMaxRuns && slot_ < 0; ++i) {
    kvm_run* expected = nullptr;
    if (g_kicked_runs[i].run.compare_exchange_strong(expected, run)) slot_ = i;
  }
  if (slot_ < 0) throw std::runtime_error("too many vCPUs with a kick timer");
  try {
    create_timer(current_tid());
  } catch (...) {
    g_kicked_runs[slot_].run.store(nullptr);
    throw;
  }
}

Kicker::~Kicker() {
  timer_delete(timer_);
  g_kicked_runs[slot_].run.store(nullptr);
}

void Kicker::create_timer(int tid) {
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kick_signal();
  sev._sigev_un._tid = tid;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer_) != 0) {
    throw std::runtime_error(std::string("timer_create: ") + std::strerror(errno));
  }
  tid_.store(tid, std::memory_order_relaxed);
  g_kicked_runs[slot_].tid.store(tid, std::memory_order_relaxed);
}

void Kicker::arm(uint64_t deadline_ns) {
  if (int me = current_tid(); me != tid_.load(std::memory_order_relaxed)) {
    timer_delete(timer_);  // it signals the thread the vCPU left
    create_timer(me);
    armed_ = 0;
  }
  if (deadline_ns == armed_) return;
  struct itimerspec its {};
  its.it_value.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000u);
  its.it_value.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000u);
  timer_settime(timer_, TIMER_ABSTIME, &its, nullptr);
  armed_ = deadline_ns;
}

void Kicker::acknowledge() {
  run_->immediate_exit = 0;
  // A timer that fired is spent; the next arm() must re-program it.
  if (armed_ != 0 && monotonic_ns() >= armed_) armed_ = 0;
}

void Kicker::kick_now() {
  ::syscall(SYS_tgkill, ::getpid(), tid_.load(std::memory_order_relaxed), kick_signal());
}

void Kicker::install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int Kicker::stop_signal() {
  return g_stop_signal.load(std::memory_order_relaxed);
}

uint64_t Kicker::monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t Kicker::thread_cpu_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace rrvm
