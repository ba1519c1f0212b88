// bisect() against a plain lockstep written here: two replays on one
// thread, exit by exit and then instruction by instruction through
// ReplaySession, registers compared after every step. Bisect runs its
// sides at once, compares exits from records and steps outside the
// session; it must name the same instruction, at the same count: for a
// divergence at the very first step after the last common exit (a port
// read), and for one that starts as a memory-only difference (the MP table
// bytes, different from the start, until the guest loads one; bisect runs
// to that load with the page trapped instead of stepping).
#include <gtest/gtest.h>

#include <cstring>

#include "replay/bisect.h"
#include "tests/kvm/kvm_test_util.h"
#include "tests/kvm/trace_replay.h"

namespace rrvm::test {
namespace {

// The guest sees the same exit on both sides: kind, port or address, data.
bool same_exit(const kvm_run& a, const kvm_run& b) {
  if (a.exit_reason != b.exit_reason) return false;
  if (a.exit_reason == KVM_EXIT_IO) {
    auto data = [](const kvm_run& r) {
      uint64_t v = 0;
      std::memcpy(&v, reinterpret_cast<const uint8_t*>(&r) + r.io.data_offset,
                  std::min<uint32_t>(r.io.size, 8));
      return v;
    };
    return a.io.port == b.io.port && a.io.size == b.io.size && a.io.direction == b.io.direction &&
           data(a) == data(b);
  }
  if (a.exit_reason == KVM_EXIT_MMIO) {
    return a.mmio.phys_addr == b.mmio.phys_addr && a.mmio.len == b.mmio.len &&
           a.mmio.is_write == b.mmio.is_write && std::memcmp(a.mmio.data, b.mmio.data, 8) == 0;
  }
  return true;
}

struct Divergence {
  uint64_t last_common_exit = 0;
  uint64_t steps = 0;  // the divergent instruction is the steps-th after that exit
  uint64_t rip = 0;
};

Divergence plain_lockstep(const std::string& a_path, const std::string& b_path) {
  Replay a(a_path), b(b_path);
  Divergence d;
  for (;;) {
    bool ended = a.session.next_exit() || b.session.next_exit();
    EXPECT_FALSE(ended) << "the executions must differ";
    if (ended) return d;
    if (!same_exit(*a.session.vcpu().run_area(), *b.session.vcpu().run_area()) ||
        !a.regs().same_state(b.regs()))
      break;
    d.last_common_exit = a.session.replayer().ordinal();
  }
  EXPECT_FALSE(a.session.seek({d.last_common_exit, 0}));
  EXPECT_FALSE(b.session.seek({d.last_common_exit, 0}));
  while (d.steps < 100'000) {
    d.rip = a.regs().rip;
    ++d.steps;
    if (a.session.step_instruction() || b.session.step_instruction()) break;
    if (!a.regs().same_state(b.regs())) break;
  }
  return d;
}

std::string record(const std::string& name, std::vector<std::string> options) {
  std::string out = temp_dir() + "/" + name + ".rrt";
  std::vector<std::string> args = {"record", "-o", out, "--serial", "none"};
  args.insert(args.end(), options.begin(), options.end());
  CliResult r = run_rrvm(args);
  EXPECT_TRUE(r.status == 1 || r.status == 5) << r.err;  // the guests' own exit statuses
  return out;
}

enum class Phase3 {
  kSteps,          // single-steps the final interval
  kRunsToMemory,   // runs to the instruction touching the differing memory
  kRunsThenSteps,  // runs to the differing memory, meets the next exit first, steps
};

// The lockstep must step between `min_steps` and `max_steps` instructions.
// kRunsToMemory: the run stops at `touches` instructions (each single-stepped).
void expect_bisect_agrees(const std::string& a, const std::string& b, uint64_t min_steps,
                          uint64_t max_steps, Phase3 how, uint64_t touches = 1) {
  Divergence want = plain_lockstep(a, b);
  ASSERT_GE(want.steps, min_steps);
  ASSERT_LE(want.steps, max_steps);
  trace::TraceReader ra(a), rb(b);
  BisectSideSpec sa{a, config_from_trace(ra.header()), false};
  BisectSideSpec sb{b, config_from_trace(rb.header()), false};
  BisectOptions opts;
  bool ran = false;
  opts.progress = [&](const std::string& phase, uint64_t) {
    ran = ran || phase == "run to differing memory";
  };
  BisectResult got = bisect(sa, sb, GuestSymbols{}, opts);
  ASSERT_TRUE(got.instruction_found) << got.summary;
  EXPECT_EQ(ran, how != Phase3::kSteps);
  EXPECT_EQ(got.last_common_exit, want.last_common_exit);
  EXPECT_EQ(got.rip, want.rip) << got.summary;
  EXPECT_EQ(got.ran_to_touch, how == Phase3::kRunsToMemory) << got.summary;
  if (how != Phase3::kRunsToMemory) {
    EXPECT_EQ(got.instructions_stepped, want.steps) << got.summary;
    EXPECT_EQ(got.instruction_index, want.steps) << got.summary;
  } else {
    EXPECT_EQ(got.instructions_stepped, touches) << got.summary;
    EXPECT_FALSE(got.instruction_index) << "not counted unless asked";
  }
  // Asked for the position (rrvm bisect --gdb), side A stands right before
  // the instruction, counted from the last common exit.
  BisectOptions gdb;
  std::optional<uint64_t> index;
  uint64_t rip = 0;
  gdb.on_result = [&](const BisectResult& r, ReplaySession& s) {
    index = r.instruction_index;
    rip = s.vcpu().get_regs().rip;
  };
  bisect(sa, sb, GuestSymbols{}, gdb);
  EXPECT_EQ(index, want.steps);
  EXPECT_EQ(rip, want.rip);
}

TEST(BisectSearch, DivergenceAtTheFirstStepIsTheLockstepsInstruction) {
  RRVM_REQUIRE_KVM();
  std::string g = guest_path("diverge");
  std::string a = record("rtc0", {"--kernel", g, "--clock", "virtual"});
  std::string b =
      record("rtc1", {"--kernel", g, "--clock", "virtual", "--rtc-epoch", "1230768001"});
  expect_bisect_agrees(a, b, 1, 1, Phase3::kSteps);  // no memory differs
}

// B's MP table differs too, but the guest reads the RTC, whose value
// differs, before any table: the run to the differing memory meets that
// port read first, and bisect goes back and single-steps the interval.
TEST(BisectSearch, DifferingMemoryTheIntervalDoesNotTouchIsSteppedThrough) {
  RRVM_REQUIRE_KVM();
  std::string g = guest_path("diverge");
  std::string a = record("rtc0-kvm84", {"--kernel", g, "--clock", "virtual", "--mptable", "kvm84"});
  std::string b = record("rtc1-fixed", {"--kernel", g, "--clock", "virtual", "--mptable", "fixed",
                                        "--rtc-epoch", "1230768001"});
  expect_bisect_agrees(a, b, 1, 1, Phase3::kRunsThenSteps);
}

TEST(BisectSearch, MemoryOnlyDifferenceIsFoundWhereTheLockstepFindsIt) {
  RRVM_REQUIRE_KVM();
  std::vector<std::string> seed = {
      "--kernel", guest_path("seedboot"), "--net", "user", "--clock", "virtual", "--mptable"};
  std::vector<std::string> kvm84 = seed, fixed = seed;
  kvm84.push_back("kvm84");
  fixed.push_back("fixed");
  // Thousands of instructions after the last common exit, which bisect
  // runs through with the table's page trapped.
  expect_bisect_agrees(record("kvm84", kvm84), record("fixed", fixed), 1000, 100'000,
                       Phase3::kRunsToMemory);
}

// tabletouch tests the table's length with flags that come out alike, then
// copies it into a page that did not differ, then loads it from the copy
// (tests/guests/tabletouch.c): three touches, the last one the answer.
TEST(BisectSearch, TouchesThatLeaveTheRegistersAlikeAreRunPast) {
  RRVM_REQUIRE_KVM();
  std::vector<std::string> g = {"--kernel", guest_path("tabletouch"), "--mptable"};
  std::vector<std::string> kvm84 = g, fixed = g;
  kvm84.push_back("kvm84");
  fixed.push_back("fixed");
  expect_bisect_agrees(record("tt-kvm84", kvm84), record("tt-fixed", fixed), 2, 100'000,
                       Phase3::kRunsToMemory, 3);
}

}  // namespace
}  // namespace rrvm::test
