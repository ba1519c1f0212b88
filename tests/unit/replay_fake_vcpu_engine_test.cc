// The replay engine (replay/replayer.h) driven by a scripted vCPU
// (tests/unit/fake_vcpu.h) instead of KVM: recordings of a guest with
// asynchronous timer interrupts, replayed exactly, and replayed after
// being cut or edited — a cut trace is never "matched", a wrong vector or
// a landmark that is not there is a divergence that says so, and a
// changed device model follows its own values only under follow_models.
#include <gtest/gtest.h>

#include "devices/hex.h"
#include "tests/unit/fake_machine.h"
#include "trace/trace_inspect.h"

namespace rrvm::test {
namespace {

using trace::Event;
using trace::EventKind;
using trace::VectorEvents;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

size_t count_kind(const VectorEvents& events, EventKind kind) {
  size_t n = 0;
  for (const auto& e : events.events) n += e.event.kind == kind;
  return n;
}

std::string dump(const VectorEvents& events) {
  std::string out;
  for (const auto& e : events.events) out += trace::format_event(e.view()) + "\n";
  return out;
}

// The index of the n-th (from 0) event of `kind` that satisfies `pred`.
template <class Pred>
size_t find_event(const VectorEvents& events, EventKind kind, Pred pred, size_t n = 0) {
  for (size_t i = 0; i < events.events.size(); ++i) {
    const trace::StoredEvent& e = events.events[i];
    if (e.event.kind == kind && pred(e) && n-- == 0) return i;
  }
  ADD_FAILURE() << "no such event in\n" << dump(events);
  return 0;
}

// The fake keeps KVM's timing of an exit: an IN's value reaches RAX, and
// RIP moves past the IN, only when the vCPU is entered again (or the exit
// is finished for a checkpoint); a breakpoint hits again when entered at
// its address (RF is not honoured).
TEST(FakeVcpu, FinishesAnExitAtTheNextEntryAsKvmDoes) {
  FakeMachine m;
  kvm_run* run = m.vcpu.run_area();
  ASSERT_TRUE(m.vcpu.run());
  ASSERT_EQ(run->exit_reason, uint32_t(KVM_EXIT_IO));
  EXPECT_EQ(run->io.port, 0x90);
  EXPECT_EQ(run->io.direction, KVM_EXIT_IO_IN);
  uint64_t in_at = m.vcpu.get_regs().rip;
  reinterpret_cast<uint8_t*>(run)[run->io.data_offset] = 0x5a;
  EXPECT_EQ(m.vcpu.get_regs().rax, 0u) << "not before the next entry";
  EXPECT_TRUE(m.vcpu.finish_pending_exit());
  EXPECT_EQ(m.vcpu.get_regs().rax, 0x5au);
  EXPECT_EQ(m.vcpu.get_regs().rip, in_at + 2);
  EXPECT_EQ(run->exit_reason, uint32_t(KVM_EXIT_INTR));
  // A breakpoint two instructions on: hit, and hit again on re-entry.
  kvm_guest_debug dbg{};
  dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
  dbg.arch.debugreg[0] = in_at + 2 + 3;
  dbg.arch.debugreg[7] = 1;
  m.vcpu.set_guest_debug(dbg);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(m.vcpu.run());
    ASSERT_EQ(run->exit_reason, uint32_t(KVM_EXIT_DEBUG));
    EXPECT_EQ(run->debug.arch.dr6 & 0xf, 1u);
    EXPECT_EQ(m.vcpu.get_regs().rip, in_at + 5);
  }
  EXPECT_EQ(m.vcpu.get_regs().rbx, 0x5au) << "the instruction before it ran once";
}

using FakeReplay = TraceKindTest;

// The premise of every other test: the fake's recording has landmarks and
// replays exactly, interrupts delivered at the same points.
TEST_P(FakeReplay, RecordingReplaysExactly) {
  Recording rec = record(log_values());
  ASSERT_EQ(rec.result.reason, StopReason::kGuestExit) << rec.result.message;
  ASSERT_EQ(rec.result.status, kExitStatus);
  size_t landmarks = count_kind(rec.events, EventKind::kLandmark);
  ASSERT_GE(landmarks, kTicks) << "the timer must interrupt the spin loop\n" << dump(rec.events);
  EXPECT_EQ(count_kind(rec.events, EventKind::kPortRead) > 0, log_values());

  Replay rep = replay(rec.events, replay_options(log_values()));
  EXPECT_EQ(rep.result.reason, StopReason::kGuestExit) << rep.result.message;
  EXPECT_EQ(rep.result.status, kExitStatus);
  EXPECT_EQ(rep.result.exits, rec.result.exits);
  EXPECT_EQ(rep.stats.events, rec.events.events.size());
  EXPECT_EQ(rep.stats.landmarks, landmarks);
  EXPECT_EQ(rep.stats.digests_checked, rec.result.exits + rec.result.exits / 3);
  EXPECT_EQ(rep.stats.model_mismatches, 0u);
  EXPECT_EQ(rep.guest_result, rec.guest_result);
  EXPECT_EQ(rep.final_mem_digest, rec.final_mem_digest);
  EXPECT_EQ(rep.delivered, rec.delivered);
}

// A trace cut anywhere, even between the events of one exit (a recording
// killed mid-write), replays as far as it goes and says it was cut; the
// same cut in a trace whose footer says it is complete is a divergence.
// Never "matched".
TEST_P(FakeReplay, ACutAtEveryEventIsTruncatedNeverMatched) {
  Recording rec = record(log_values());
  ASSERT_EQ(rec.result.reason, StopReason::kGuestExit) << rec.result.message;
  const std::vector<trace::StoredEvent>& all = rec.events.events;
  for (size_t cut = 0; cut < all.size(); ++cut) {
    VectorEvents prefix;
    prefix.events.assign(all.begin(), all.begin() + long(cut));
    std::string where = "cut after event " + std::to_string(cut) +
                        (cut ? " (" + trace::format_event(all[cut - 1].view()) + ")" : "");
    Replay rep = replay(prefix, replay_options(log_values()));
    EXPECT_EQ(rep.result.reason, StopReason::kEndOfTrace) << where << ": " << rep.result.message;
    EXPECT_TRUE(has(rep.result.message, "(truncated recording); replayed that far"))
        << where << ": " << rep.result.message;
    EXPECT_EQ(rep.result.exits, cut ? all[cut - 1].event.ordinal : 0u) << where;

    ReplayOptions complete = replay_options(log_values());
    complete.complete_trace = true;
    Replay strict = replay(prefix, complete);
    EXPECT_EQ(strict.result.reason, StopReason::kDiverged)
        << where << ", complete trace: " << strict.result.message;
  }
}

// The second tick's recorded vector edited: the device models offer the
// timer's vector there, and replay stops before injecting either.
TEST_P(FakeReplay, AWrongVectorAtALandmarkIsADivergenceNamingBoth) {
  Recording rec = record(log_values());
  size_t i = find_event(
      rec.events, EventKind::kInterrupt, [](const auto& e) { return e.event.at_landmark(); }, 1);
  uint64_t exit = rec.events.events[i].event.ordinal;
  rec.events.events[i].event = Event::interrupt(exit, kTimerVector + 1, true);
  Replay rep = replay(rec.events, replay_options(log_values()));
  ASSERT_EQ(rep.result.reason, StopReason::kDiverged) << rep.result.message;
  std::string n = std::to_string(exit);
  EXPECT_TRUE(has(rep.result.message, "replay diverged from the recording at exit " + n + ": " +
                                          "the recording injected vector 0x21 after exit " + n +
                                          "; the device models offer 0x20 (test timer)"))
      << rep.result.message;
  EXPECT_EQ(rep.delivered, std::vector<uint8_t>{kTimerVector}) << "only the first tick went in";
}

// A landmark the trace lost (its interrupt kept) is a divergence, not a
// cut-off trace.
TEST_P(FakeReplay, AMissingLandmarkIsADivergence) {
  Recording rec = record(log_values());
  size_t i = find_event(
      rec.events, EventKind::kLandmark, [](const auto&) { return true; }, 2);
  rec.events.events.erase(rec.events.events.begin() + long(i));
  Replay rep = replay(rec.events, replay_options(log_values()));
  ASSERT_EQ(rep.result.reason, StopReason::kDiverged) << rep.result.message;
  EXPECT_TRUE(has(rep.result.message, "the recording has #" +
                                          std::to_string(rec.events.events[i].event.ordinal) +
                                          " interrupt vector=0x20 at=\"landmark\" without a "
                                          "landmark before it"))
      << rep.result.message;
  EXPECT_EQ(rep.delivered.size(), 2u) << "the ticks before it went in";
}

// A landmark whose registers the guest never has there: the seeker passes
// every hit at its RIP, the guest makes its next exit first, and the report
// says which registers differ.
TEST_P(FakeReplay, ALandmarkTheGuestNeverReachesIsADivergence) {
  Recording rec = record(log_values());
  size_t i = find_event(
      rec.events, EventKind::kLandmark, [](const auto&) { return true; }, 1);
  trace::LandmarkData& lm = rec.events.events[i].landmark;
  lm.gprs[2] += 1000;  // rcx: a turn of the spin loop it never reaches
  uint64_t exit = rec.events.events[i].event.ordinal;
  Replay rep = replay(rec.events, replay_options(log_values()));
  ASSERT_EQ(rep.result.reason, StopReason::kDiverged) << rep.result.message;
  std::string rip = hex(lm.rip);
  EXPECT_TRUE(has(rep.result.message, "landmark after exit " + std::to_string(exit) + " at rip " +
                                          rip + " was not reached: the guest made exit " +
                                          std::to_string(exit + 1) + " first ("))
      << rep.result.message;
  EXPECT_TRUE(has(rep.result.message, "rcx " + hex(kSpinLimit) + " vs " + hex(lm.gprs[2])))
      << "the loop ran out of turns: " << rep.result.message;
  EXPECT_GT(rep.stats.breakpoint_hits, 1u) << "the loop passed the landmark's RIP";
}

// A landmark where no guest code is: said at once, without running.
TEST_P(FakeReplay, ALandmarkOutsideGuestCodeIsADivergence) {
  Recording rec = record(log_values());
  size_t i = find_event(rec.events, EventKind::kLandmark, [](const auto&) { return true; });
  rec.events.events[i].landmark.rip = 64ull << 20;  // beyond the 4 MiB of RAM
  Replay rep = replay(rec.events, replay_options(log_values()));
  ASSERT_EQ(rep.result.reason, StopReason::kDiverged) << rep.result.message;
  EXPECT_TRUE(has(rep.result.message, "at rip 0x4000000: no guest code is mapped there"))
      << rep.result.message;
  EXPECT_EQ(rep.stats.breakpoint_hits, 0u);
}

// A device model that answers differently (each value with its low bit
// flipped). Where the trace stores the values, the guest gets them and
// replay matches, the disagreements counted; under follow_models the
// guest gets the model's values instead, so its registers part from the
// recording's at the first landmark after the first read (bisect's
// changed machine departing from the trace). Where the trace leaves reads
// to the models, the guest has the model's values anyway.
TEST_P(FakeReplay, AChangedDeviceModelIsFollowedOnlyUnderFollowModels) {
  Recording rec = record(log_values());
  TestPorts::Model changed{.skew = 1};
  Replay rep = replay(rec.events, replay_options(log_values()), changed);
  if (!log_values()) {
    ASSERT_EQ(rep.result.reason, StopReason::kDiverged) << rep.result.message;
    EXPECT_TRUE(has(rep.result.message, "landmark after exit 1 at rip ")) << rep.result.message;
    // The guest's first read is at its third instruction: time 2000 ns,
    // value 2 (TestPorts), kept in rbx.
    EXPECT_TRUE(has(rep.result.message, "rbx 0x3 vs 0x2,")) << rep.result.message;
    return;
  }
  EXPECT_EQ(rep.result.reason, StopReason::kGuestExit) << rep.result.message;
  EXPECT_EQ(rep.guest_result, rec.guest_result);
  EXPECT_EQ(rep.stats.model_mismatches, count_kind(rec.events, EventKind::kPortRead) +
                                            count_kind(rec.events, EventKind::kMmioRead));
  const trace::Event& first =
      rec.events
          .events[find_event(rec.events, EventKind::kPortRead, [](const auto&) { return true; })]
          .event;
  EXPECT_EQ(rep.stats.first_model_mismatch, "exit 1: 0x90 recorded " + hex(first.value()) +
                                                ", device model " + hex(first.value() ^ 1));

  ReplayOptions follow = replay_options(log_values());
  follow.follow_models = true;
  follow.verify = false;
  Replay own = replay(rec.events, follow, changed);
  ASSERT_EQ(own.result.reason, StopReason::kDiverged) << own.result.message;
  EXPECT_TRUE(has(own.result.message, "landmark after exit 1 at rip "));
  EXPECT_TRUE(
      has(own.result.message, "rbx " + hex(first.value() ^ 1) + " vs " + hex(first.value()) + ","))
      << "the guest's rbx holds the model's value: " << own.result.message;
  EXPECT_EQ(own.stats.model_mismatches, 1u);
}

// A changed model that does not read the clock where the recording's
// did (its reads give 0): the recorded time nobody asks for is a
// divergence at that exit, except under follow_models, which passes over
// it, so the changed machine departs only where its guest does (rbx holds
// the 0 read at exit 1: the first landmark is not reached).
TEST_P(FakeReplay, MissingClockReadsDivergeUnlessFollowingModels) {
  Recording rec = record(log_values());
  TestPorts::Model changed{.reads_clock = false};
  Replay rep = replay(rec.events, replay_options(log_values()), changed);
  ASSERT_EQ(rep.result.reason, StopReason::kDiverged) << rep.result.message;
  EXPECT_TRUE(has(rep.result.message, "at exit 1: the recording has #1 clock-read source=0") ||
              has(rep.result.message, "at exit 1: the guest makes #1 port-read port=0x90"))
      << rep.result.message;
  ReplayOptions follow = replay_options(log_values());
  follow.follow_models = true;
  follow.verify = false;
  Replay own = replay(rec.events, follow, changed);
  ASSERT_EQ(own.result.reason, StopReason::kDiverged) << own.result.message;
  EXPECT_TRUE(has(own.result.message, "at exit 1: landmark after exit 1 at rip "))
      << own.result.message;
  EXPECT_TRUE(has(own.result.message, "rbx 0x0 vs 0x2,")) << own.result.message;
}

// A changed model that asks for the time more often than the recording's:
// a divergence, except under follow_models, where time stands still for
// the reads the trace does not hold, so this model's guest sees the
// recorded times.
TEST_P(FakeReplay, ExtraClockReadsDivergeUnlessFollowingModels) {
  Recording rec = record(log_values());
  TestPorts::Model changed{.reads_clock_twice = true};
  Replay rep = replay(rec.events, replay_options(log_values()), changed);
  ASSERT_EQ(rep.result.reason, StopReason::kDiverged) << rep.result.message;
  EXPECT_TRUE(has(rep.result.message, "a device reads the clock at exit 1; the recording has #1 "))
      << rep.result.message;

  ReplayOptions follow = replay_options(log_values());
  follow.follow_models = true;
  Replay own = replay(rec.events, follow, changed);
  EXPECT_EQ(own.result.reason, StopReason::kGuestExit) << own.result.message;
  EXPECT_EQ(own.guest_result, rec.guest_result);
  EXPECT_EQ(own.final_mem_digest, rec.final_mem_digest);
}

// An interrupt the recording injected at an exit (stored with
// --log-values), edited: the same report as at a landmark.
TEST(FakeReplayLoggedValues, AWrongVectorAtAnExitIsADivergenceNamingBoth) {
  Recording rec = record(/*log_values=*/true);
  size_t i = find_event(rec.events, EventKind::kInterrupt,
                        [](const auto& e) { return !e.event.at_landmark(); });
  uint64_t exit = rec.events.events[i].event.ordinal;
  rec.events.events[i].event = Event::interrupt(exit, 0x41, false);
  Replay rep = replay(rec.events, replay_options(true));
  ASSERT_EQ(rep.result.reason, StopReason::kDiverged) << rep.result.message;
  EXPECT_TRUE(has(rep.result.message, "the recording injected vector 0x41 after exit " +
                                          std::to_string(exit) +
                                          "; the device models offer 0x20 (test timer)"))
      << rep.result.message;
  EXPECT_EQ(rep.delivered.size(), kTicks) << "the ticks before it went in, not this one";
}

INSTANTIATE_TEST_SUITE_P(TraceKinds, FakeReplay, testing::Bool(), trace_kind_name);

}  // namespace
}  // namespace rrvm::test
