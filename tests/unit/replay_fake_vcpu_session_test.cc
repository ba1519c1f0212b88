// ReplaySession (replay/replay_session.h) on the scripted vCPU
// (tests/unit/fake_vcpu.h), without KVM: a checkpoint restored and replayed
// forward reaches exactly the states a straight replay reaches, through
// the landmarks of the asynchronous interrupts in between, and positions
// (an exit, or an instruction inside an interval) come back exactly.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>

#include "tests/unit/fake_machine.h"

namespace rrvm::test {
namespace {

struct FakeSession {
  FakeSession(trace::VectorEvents& events, bool log_values, uint64_t every) {
    events.next = 0;
    session =
        std::make_unique<ReplaySession>(events, machine.session_parts(), replay_options(log_values),
                                        CheckpointPolicy{every, 64ull << 20});
  }
  kvm_regs regs() {
    session->settle();
    return session->vcpu().get_regs();
  }
  FakeMachine machine;
  std::unique_ptr<ReplaySession> session;
};

bool same(const kvm_regs& a, const kvm_regs& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

using FakeSessionTest = TraceKindTest;

// Straight through, checkpointing every 2 exits; then from each checkpoint
// again: the same machine digest (vCPU, devices, RAM) and registers at
// every later checkpoint, the same end and the recording's final memory.
TEST_P(FakeSessionTest, RestoredCheckpointReplaysToTheStraightReplaysStates) {
  Recording rec = record(log_values());
  ASSERT_EQ(rec.result.reason, StopReason::kGuestExit) << rec.result.message;
  FakeSession f(rec.events, log_values(), 2);
  ReplaySession& s = *f.session;
  std::map<uint64_t, kvm_regs> straight;
  std::optional<RunResult> end;
  while (!(end = s.next_exit())) {
    if (s.replayer().ordinal() % 2 == 0) straight[s.replayer().ordinal()] = f.regs();
  }
  ASSERT_EQ(end->reason, StopReason::kGuestExit) << end->message;
  EXPECT_EQ(s.summary(*end).final_memory_digest, rec.final_mem_digest);
  std::vector<uint64_t> cps = s.checkpoint_exits();
  ASSERT_EQ(cps.size(), rec.result.exits / 2 + 1) << "the start and every second exit";

  for (uint64_t from : cps) {
    std::optional<RunResult> stop = s.seek({from, 0});
    ASSERT_FALSE(stop) << stop->message;
    EXPECT_EQ(s.position(), (SessionPosition{from, 0}));
    MachineDigest restored = s.digest_now();
    EXPECT_EQ(restored, *s.checkpoint_digest(from))
        << "right after restoring exit " << from << ": "
        << differing_parts(restored, *s.checkpoint_digest(from)) << " differ";
    for (uint64_t at : cps) {
      if (at <= from) continue;
      while (s.replayer().ordinal() < at) {
        std::optional<RunResult> r = s.next_exit();
        ASSERT_FALSE(r) << "after restoring exit " << from << ": " << r->message;
      }
      MachineDigest now = s.digest_now(), want = *s.checkpoint_digest(at);
      EXPECT_EQ(now, want) << "exit " << at << " after restoring exit " << from << ": "
                           << differing_parts(now, want) << " differ";
      EXPECT_TRUE(same(f.regs(), straight.at(at)))
          << "registers at exit " << at << " after restoring exit " << from;
    }
    RunResult again = s.run();
    EXPECT_EQ(again.reason, end->reason) << again.message;
    EXPECT_EQ(again.status, end->status);
    EXPECT_EQ(again.exits, end->exits);
    EXPECT_EQ(s.summary(again).final_memory_digest, rec.final_mem_digest)
        << "after restoring exit " << from;
  }
}

// A checkpoint taken outside the schedule (bisect's way) brings back its
// exit, the machine and the replay engine's counters.
TEST_P(FakeSessionTest, ACheckpointTakenAnywhereComesBackExactly) {
  Recording rec = record(log_values());
  FakeSession f(rec.events, log_values(), 0);
  ReplaySession& s = *f.session;
  for (int i = 0; i < 3; ++i) {
    std::optional<RunResult> r = s.next_exit();
    ASSERT_FALSE(r) << r->message;
  }
  ASSERT_TRUE(s.take_checkpoint());
  MachineDigest digest = s.digest_now();
  kvm_regs regs = f.regs();
  ReplayStats stats = s.replayer().stats();
  RunResult end = s.run();
  ASSERT_EQ(end.reason, StopReason::kGuestExit) << end.message;
  EXPECT_NE(s.digest_now(), digest);

  ASSERT_FALSE(s.seek({3, 0}));
  EXPECT_EQ(s.position(), (SessionPosition{3, 0}));
  EXPECT_EQ(s.digest_now(), digest);
  EXPECT_EQ(*s.checkpoint_digest(3), digest);
  EXPECT_TRUE(same(f.regs(), regs));
  EXPECT_EQ(s.replayer().stats().events, stats.events);
  EXPECT_EQ(s.replayer().stats().landmarks, stats.landmarks);
  RunResult again = s.run();
  EXPECT_EQ(again.reason, end.reason) << again.message;
  EXPECT_EQ(s.summary(again).final_memory_digest, rec.final_mem_digest);
}

// Inside the interval after exit 1, which holds the first tick's landmark:
// single-stepped once to learn its length, then its middle sought, left,
// and sought again from a checkpoint: the same registers. Stepping across
// the landmark delivers the tick where the recording did: the replay goes
// on to the recording's end.
TEST_P(FakeSessionTest, APositionInsideAnIntervalComesBackWithTheSameRegisters) {
  Recording rec = record(log_values());
  FakeSession f(rec.events, log_values(), 2);
  ReplaySession& s = *f.session;
  std::optional<uint64_t> len = s.interval_length(1);
  ASSERT_TRUE(len);
  ASSERT_GT(*len, 40u) << "the spin loop up to the first tick and its handler";
  SessionPosition p{1, *len / 2};
  ASSERT_FALSE(s.seek(p));
  ASSERT_EQ(s.position(), p);
  kvm_regs a = f.session->vcpu().get_regs();
  ASSERT_FALSE(s.seek({4, 0}));
  ASSERT_FALSE(s.seek(p));  // back: from the start checkpoint
  EXPECT_EQ(s.position(), p);
  EXPECT_TRUE(same(f.session->vcpu().get_regs(), a));
  RunResult end = s.run();
  EXPECT_EQ(end.reason, StopReason::kGuestExit) << end.message;
  EXPECT_EQ(s.summary(end).final_memory_digest, rec.final_mem_digest);
}

INSTANTIATE_TEST_SUITE_P(TraceKinds, FakeSessionTest, testing::Bool(), trace_kind_name);

}  // namespace
}  // namespace rrvm::test
