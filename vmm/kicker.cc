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

// One vCPU per process today; the handler finds its run area here.
std::atomic<kvm_run*> g_kicked_run{nullptr};

int kick_signal() { return SIGRTMIN + 3; }

std::atomic<int> g_stop_signal{0};

void on_kick(int) {
  if (kvm_run* run = g_kicked_run.load(std::memory_order_relaxed)) run->immediate_exit = 1;
}

void on_stop(int sig) {
  g_stop_signal.store(sig, std::memory_order_relaxed);
  on_kick(sig);
}

}  // namespace

Kicker::Kicker(kvm_run* run) : run_(run) {
  g_kicked_run.store(run);
  struct sigaction sa{};
  sa.sa_handler = on_kick;
  sigemptyset(&sa.sa_mask);
  if (sigaction(kick_signal(), &sa, nullptr) != 0) {
    throw std::runtime_error(std::string("sigaction: ") + std::strerror(errno));
  }
  tid_ = static_cast<int>(::syscall(SYS_gettid));
  struct sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = kick_signal();
  sev._sigev_un._tid = tid_;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer_) != 0) {
    throw std::runtime_error(std::string("timer_create: ") + std::strerror(errno));
  }
}

Kicker::~Kicker() {
  timer_delete(timer_);
  g_kicked_run.store(nullptr);
}

void Kicker::arm(uint64_t deadline_ns) {
  if (deadline_ns == armed_) return;
  struct itimerspec its{};
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

void Kicker::kick_now() { ::syscall(SYS_tgkill, ::getpid(), tid_, kick_signal()); }

void Kicker::install_stop_signals() {
  struct sigaction sa{};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int Kicker::stop_signal() { return g_stop_signal.load(std::memory_order_relaxed); }

uint64_t Kicker::monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace rrvm
