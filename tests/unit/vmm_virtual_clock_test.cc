// --clock virtual (vmm/host_clock.h): guest time follows the execution;
// host time and host stalls never become guest time, and only a guest that
// spins (CPU time without exits) moves time on, in whole quanta.
#include <gtest/gtest.h>

#include "vmm/host_clock.h"

namespace rrvm {
namespace {

// The vCPU thread's CPU time, as the test says it is.
uint64_t g_cpu_ns = 0;
uint64_t fake_cpu() {
  return g_cpu_ns;
}

constexpr uint64_t kQuantum = VirtualClock::kSpinNs;

struct VirtualClockTest : ::testing::Test {
  void SetUp() override { g_cpu_ns = 1'000'000'000; }
  VirtualClock clock{fake_cpu};
};

TEST_F(VirtualClockTest, ExitsAndHaltsMoveTimeByFixedAmounts) {
  for (int i = 0; i < 3; ++i) clock.on_exit();
  EXPECT_EQ(clock.now_ns(), 3 * VirtualClock::kExitNs);
  EXPECT_TRUE(clock.skip_to(50'000));
  EXPECT_EQ(clock.now_ns(), 50'000u);
  EXPECT_TRUE(clock.skip_to(10'000)) << "never backwards";
  EXPECT_EQ(clock.now_ns(), 50'000u);
}

// A guest that exits between kicks is not spinning, however much CPU time
// (or host time) passed: every kick is invisible.
TEST_F(VirtualClockTest, KicksWithAnExitSinceTheLastOneMoveNothing) {
  clock.on_kick();
  for (int i = 0; i < 50; ++i) {
    g_cpu_ns += 3 * kQuantum;
    clock.on_exit();
    EXPECT_FALSE(clock.on_kick()) << "kick " << i;
  }
  EXPECT_EQ(clock.now_ns(), 50 * VirtualClock::kExitNs);
}

// A stalled or stopped vCPU thread uses no CPU time: no time passes for the
// guest, however long the stall.
TEST_F(VirtualClockTest, KicksWithoutCpuTimeMoveNothing) {
  EXPECT_FALSE(clock.on_kick());
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(clock.on_kick());
  g_cpu_ns += kQuantum - 1;
  EXPECT_FALSE(clock.on_kick());
  EXPECT_EQ(clock.now_ns(), 0u);
}

// CPU time without exits accumulates across kicks and becomes guest time in
// whole quanta; the remainder carries over.
TEST_F(VirtualClockTest, SpinningMovesTimeInWholeQuanta) {
  EXPECT_FALSE(clock.on_kick()) << "the first kick only starts the count";
  g_cpu_ns += kQuantum / 2;
  EXPECT_FALSE(clock.on_kick());
  g_cpu_ns += kQuantum / 2;
  EXPECT_TRUE(clock.on_kick());
  EXPECT_EQ(clock.now_ns(), kQuantum);
  g_cpu_ns += 2 * kQuantum + kQuantum / 2;
  EXPECT_TRUE(clock.on_kick());
  EXPECT_EQ(clock.now_ns(), 3 * kQuantum);
  g_cpu_ns += kQuantum / 2;
  EXPECT_TRUE(clock.on_kick()) << "the half quantum left over counts";
  EXPECT_EQ(clock.now_ns(), 4 * kQuantum);
}

TEST_F(VirtualClockTest, AnExitRestartsTheSpinCount) {
  clock.on_kick();
  g_cpu_ns += kQuantum - 1;
  EXPECT_FALSE(clock.on_kick());
  clock.on_exit();
  g_cpu_ns += kQuantum - 1;
  EXPECT_FALSE(clock.on_kick()) << "CPU time before the exit is not spinning";
  g_cpu_ns += kQuantum - 1;
  EXPECT_FALSE(clock.on_kick());
  g_cpu_ns += 1;
  EXPECT_TRUE(clock.on_kick());
  EXPECT_EQ(clock.now_ns(), VirtualClock::kExitNs + kQuantum);
}

// The kick timer is due when the rest of a quantum could have been spent.
TEST_F(VirtualClockTest, NextCheckIsTheRestOfAQuantumAway) {
  clock.on_kick();
  g_cpu_ns += kQuantum / 4;
  uint64_t before = Kicker::monotonic_ns();
  clock.on_kick();
  uint64_t check = clock.host_time(0);
  EXPECT_GE(check, before + kQuantum * 3 / 4);
  EXPECT_LE(check, Kicker::monotonic_ns() + kQuantum * 3 / 4);
  EXPECT_EQ(clock.host_time(123'456'789), check) << "not the deadline: the spin check";
}

}  // namespace
}  // namespace rrvm
