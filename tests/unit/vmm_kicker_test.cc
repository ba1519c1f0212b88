// Kicker: a kick lands on the thread that armed the timer last and stops
// only the vCPUs of that thread (run areas here are plain structs: no KVM).
#include "vmm/kicker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace rrvm {
namespace {

using namespace std::chrono_literals;

// Until `run`'s immediate_exit is set, or a second has passed.
bool kicked(const kvm_run& run) {
  auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until) {
    if (reinterpret_cast<const volatile kvm_run&>(run).immediate_exit) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

constexpr uint64_t kMinute = 60'000'000'000ull;

// A thread that arms `k` `ahead_ns` ahead (so the timer follows it), then
// waits.
class ArmingThread {
 public:
  ArmingThread(Kicker& k, uint64_t ahead_ns)
      : thread_([this, &k, ahead_ns] {
          k.arm(Kicker::monotonic_ns() + ahead_ns);
          armed_ = true;
          while (!done_) std::this_thread::sleep_for(1ms);
        }) {
    while (!armed_) std::this_thread::sleep_for(1ms);
  }
  ~ArmingThread() {
    done_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> armed_{false}, done_{false};
  std::thread thread_;
};

TEST(Kicker, KickStopsOnlyTheVcpusOfTheThreadItSignals) {
  kvm_run here{}, there{};
  Kicker kh(&here), kt(&there);
  kh.arm(Kicker::monotonic_ns() + kMinute);
  ArmingThread t(kt, kMinute);
  kt.kick_now();
  EXPECT_TRUE(kicked(there));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(here.immediate_exit, 0) << "a kick for another thread's vCPU stopped this one";
  kh.kick_now();
  EXPECT_TRUE(kicked(here));
  kh.arm(0);
}

TEST(Kicker, TimerFollowsTheThreadThatArmsIt) {
  kvm_run here{}, there{};
  Kicker kh(&here), kt(&there);  // both built here
  kh.arm(Kicker::monotonic_ns() + kMinute);
  {
    ArmingThread t(kt, uint64_t{5'000'000});  // fires there in 5 ms
    EXPECT_TRUE(kicked(there));
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(here.immediate_exit, 0) << "the timer signalled the thread that built it";
  }
  there.immediate_exit = 0;
  kt.arm(Kicker::monotonic_ns() + 5'000'000);  // and back here
  EXPECT_TRUE(kicked(there));
  EXPECT_TRUE(here.immediate_exit) << "both vCPUs are this thread's";
  kh.arm(0);
}

}  // namespace
}  // namespace rrvm
