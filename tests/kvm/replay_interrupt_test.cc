// Replayer::interrupt: another thread stops a replay (bisect stops the side
// it let run ahead), the replay is not spoiled by it, and a vCPU replayed on
// one thread goes on on another.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/kvm/kvm_test_util.h"
#include "tests/kvm/trace_replay.h"

namespace rrvm::test {
namespace {

using namespace std::chrono_literals;

std::string record_timerhash() {
  std::string out = temp_dir() + "/timerhash.rrt";
  CliResult r =
      run_rrvm({"record", "-o", out, "--serial", "none", "--kernel", guest_path("timerhash")});
  EXPECT_EQ(r.status, 1) << r.err;
  return out;
}

TEST(ReplayInterrupt, StopsTheNextRunAndASeekGoesOn) {
  RRVM_REQUIRE_KVM();
  Replay r(record_timerhash(), CheckpointPolicy{20});
  for (int i = 0; i < 30; ++i) ASSERT_FALSE(r.session.next_exit());
  r.session.replayer().interrupt();
  std::optional<RunResult> stop = r.session.next_exit();
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->reason, StopReason::kInterrupted);
  EXPECT_EQ(r.session.replayer().ordinal(), 30u);
  EXPECT_FALSE(r.session.position()) << "an interrupted run leaves the position unknown";
  ASSERT_FALSE(r.session.seek({25, 0}));
  expect_replays_to_the_recorded_end(r);
}

// Replayed on a thread of its own, interrupted from this one while it runs,
// then replayed on here to the end: the kick reached the replaying thread,
// and the vCPU moved between threads without harm.
TEST(ReplayInterrupt, StopsAReplayRunningOnAnotherThread) {
  RRVM_REQUIRE_KVM();
  Replay r(record_timerhash(), CheckpointPolicy{20});
  std::atomic<bool> started{false};
  auto elsewhere = std::async(std::launch::async, [&] {
    started = true;
    return r.session.run();
  });
  while (!started) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(30ms);
  auto asked = std::chrono::steady_clock::now();
  r.session.replayer().interrupt();
  ASSERT_EQ(elsewhere.wait_for(10s), std::future_status::ready);
  RunResult stop = elsewhere.get();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 1s);
  ASSERT_EQ(stop.reason, StopReason::kInterrupted)
      << "the whole replay took less than 30 ms: " << stop.message;
  uint64_t at = r.session.replayer().ordinal();
  ASSERT_FALSE(r.session.seek({at > 5 ? at - 5 : 0, 0}));
  expect_replays_to_the_recorded_end(r);
}

}  // namespace
}  // namespace rrvm::test
