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

// Run areas of the vCPUs with a Kicker (bisect drives two VMs from one
// thread). A kick stops all of them: each loop handles a spurious EINTR.
constexpr int kMaxRuns = 4;
std::atomic<kvm_run*> g_kicked_runs[kMaxRuns];

int kick_signal() {
  return SIGRTMIN + 3;
}

std::atomic<int> g_stop_signal{0};

void on_kick(int) {
  for (auto& slot : g_kicked_runs) {
    if (kvm_run* run = slot.load(std::memory_order_relaxed)) run->immediate_exit = 1;
  }
}

void on_stop(int sig) {
  g_stop_signal.store(sig, std::memory_order_relaxed);
  on_kick(sig);
}

}  // namespace

Kicker::Kicker(kvm_run* run) : run_(run) {
  struct sigaction sa {};
  sa.sa_handler = on_kick;
  sigemptyset(&sa.sa_mask);
  if (sigaction(kick_signal(), &sa, nullptr) != 0) {
    throw std::runtime_error(std::string("sigaction: ") + std::strerror(errno));
  }
  tid_ = static_cast<int>(::syscall(SYS_gettid));
  struct sigevent sev {};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kick_signal();
  sev._sigev_un._tid = tid_;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer_) != 0) {
    throw std::runtime_error(std::string("timer_create: ") + std::strerror(errno));
  }
  bool registered = false;
  for (auto& slot : g_kicked_runs) {
    kvm_run* expected = nullptr;
    if (slot.compare_exchange_strong(expected, run)) {
      registered = true;
      break;
    }
  }
  if (!registered) {
    timer_delete(timer_);
    throw std::runtime_error("too many vCPUs with a kick timer");
  }
}

Kicker::~Kicker() {
  timer_delete(timer_);
  for (auto& slot : g_kicked_runs) {
    kvm_run* expected = run_;
    slot.compare_exchange_strong(expected, nullptr);
  }
}

void Kicker::arm(uint64_t deadline_ns) {
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
  ::syscall(SYS_tgkill, ::getpid(), tid_, kick_signal());
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
