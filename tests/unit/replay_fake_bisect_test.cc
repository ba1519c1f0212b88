// bisect() (replay/bisect.h) on the scripted vCPU (tests/unit/fake_vcpu.h),
// without KVM: both sides are ReplaySessions over fake machines, so the
// whole search runs here — the lockstep over exits, the return to the
// last common checkpoint, single-stepping the final interval, and where
// side A is left for the debugger.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "replay/bisect.h"
#include "tests/unit/fake_machine.h"

namespace rrvm::test {
namespace {

// One side: a fake machine replaying a recording's events.
class FakeSide final : public BisectReplay {
 public:
  FakeSide(const trace::VectorEvents& events, const ReplayOptions& opts, TestPorts::Model model)
      : events_(events), machine_(model) {
    events_.next = 0;
    session_ = std::make_unique<ReplaySession>(events_, machine_.session_parts(), opts,
                                               CheckpointPolicy{0, 64ull << 20});
  }
  ReplaySession& session() override { return *session_; }

 private:
  trace::VectorEvents events_;
  FakeMachine machine_;
  std::unique_ptr<ReplaySession> session_;
};

struct SideSpec {
  const trace::VectorEvents* events;
  TestPorts::Model model{};
  bool follow_models = false;
};

ReplayOptions side_options(const SideSpec& s, bool log_values) {
  ReplayOptions o = replay_options(log_values);
  o.follow_models = s.follow_models;
  o.verify = !s.follow_models;
  return o;
}

BisectResult bisect_fakes(const SideSpec& a, const SideSpec& b, bool log_values,
                          BisectOptions opts = {}) {
  OpenBisectSide open = [&](int side) -> std::unique_ptr<BisectReplay> {
    const SideSpec& s = side ? b : a;
    return std::make_unique<FakeSide>(*s.events, side_options(s, log_values), s.model);
  };
  return bisect(open, GuestSymbols{}, opts);
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The address of the guest's first `in $0x90` (guest_program()).
uint64_t first_in_rip() {
  FakeProgram p(kCode);
  p.mov(&kvm_regs::rsp, kStack).sti();
  return p.here();
}

using FakeBisect = TraceKindTest;

TEST_P(FakeBisect, ARecordingAgainstItselfHasNoDivergence) {
  Recording rec = record(log_values());
  ASSERT_EQ(rec.result.reason, StopReason::kGuestExit) << rec.result.message;
  BisectResult r = bisect_fakes({&rec.events}, {&rec.events}, log_values());
  EXPECT_FALSE(r.diverged) << r.summary;
  EXPECT_TRUE(has(r.summary, "no divergence: both executions are identical to their end (" +
                                 std::to_string(rec.result.exits) + " exits)"))
      << r.summary;
  EXPECT_EQ(r.lockstep_exits, rec.result.exits) << "every exit compared";
}

// B's device model answers every read with its low bit flipped, and B
// follows its models: the first read is the answer, at the IN itself,
// with both values named; side A is left right before it for --gdb.
TEST_P(FakeBisect, AChangedDeviceModelIsFoundAtTheReadThatGaveAnotherValue) {
  Recording rec = record(log_values());
  uint64_t rip_given_to_debugger = 0;
  BisectOptions opts;
  opts.on_result = [&](const BisectResult&, ReplaySession& a) {
    rip_given_to_debugger = a.vcpu().get_regs().rip;
  };
  BisectResult r =
      bisect_fakes({&rec.events}, {&rec.events, {.skew = 1}, true}, log_values(), opts);
  ASSERT_TRUE(r.diverged) << r.summary;
  ASSERT_TRUE(r.instruction_found) << r.summary;
  EXPECT_EQ(r.rip, first_in_rip()) << r.summary << "; " << r.input;
  EXPECT_TRUE(has(r.input, "read of port 0x90 (test-ports): 0x02 vs 0x03")) << r.input;
  EXPECT_EQ(r.last_common_exit + 1, r.first_differing_exit);
  EXPECT_EQ(rip_given_to_debugger, r.rip) << "A stands at the divergent instruction";
}

// Two recordings of the same guest whose host timer kicked the vCPU at
// other instructions: the timer interrupt lands at other places in the
// spin loop. The search ends at the first interval where they part, and
// names the interrupt of each side.
TEST_P(FakeBisect, InterruptsPlacedDifferentlyAreNamedForEachSide) {
  Recording a = record(log_values());
  std::vector<uint64_t> other;
  for (uint64_t n = 53; n < 4000; n += 41) other.push_back(n);
  Recording b = record(log_values(), other);
  ASSERT_EQ(b.result.reason, StopReason::kGuestExit) << b.result.message;
  ASSERT_NE(a.delivered.size(), 0u);
  BisectResult r = bisect_fakes({&a.events}, {&b.events}, log_values());
  ASSERT_TRUE(r.diverged) << r.summary;
  ASSERT_TRUE(r.instruction_found) << r.summary;
  EXPECT_TRUE(has(r.input,
                  "the recordings interrupt the guest at different points: A takes vector 0x20 at "
                  "rip "))
      << r.input;
  EXPECT_TRUE(has(r.input, "; B takes vector 0x20 at rip ")) << r.input;
  EXPECT_TRUE(has(r.register_diff, "rip ")) << r.register_diff;
}

// B's trace cut after half its events: B's replay stops where A's goes
// on, and the search says so, naming B's end, not a changed machine.
TEST_P(FakeBisect, ATruncatedSideEndsTheSearchWhereItStops) {
  Recording rec = record(log_values());
  trace::VectorEvents cut = rec.events;
  cut.events.resize(cut.events.size() / 2);
  BisectResult r = bisect_fakes({&rec.events}, {&cut}, log_values());
  ASSERT_TRUE(r.diverged) << r.summary;
  EXPECT_TRUE(r.side_a_end.empty()) << "A replays on: " << r.side_a_end;
  EXPECT_TRUE(has(r.side_b_end, "end of trace at exit ")) << r.side_b_end;
  EXPECT_TRUE(has(r.summary, ": B ends (end of trace at exit ")) << r.summary;
  EXPECT_TRUE(has(r.summary, "(truncated recording); replayed that far) where A goes on"))
      << r.summary;
  EXPECT_LT(r.first_differing_exit, rec.result.exits) << r.summary;
}

INSTANTIATE_TEST_SUITE_P(Traces, FakeBisect, testing::Bool(), trace_kind_name);

}  // namespace
}  // namespace rrvm::test
