// Machine checkpoints on real guests (issue 13's test): a restored
// checkpoint followed by re-execution reaches exactly the state a straight
// run reaches — machine digests equal at every later checkpoint, the same
// guest output and exit status.
//
// The guests take no outside input and never spin, and under --clock
// virtual their time comes from their own exits, so two straight runs
// agree; the first test checks that premise.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "tests/kvm/kvm_test_util.h"
#include "vmm/machine.h"
#include "vmm/machine_checkpoint.h"
#include "vmm/pc_board.h"
#include "vmm/vcpu_state.h"

namespace rrvm {
namespace {

std::vector<uint8_t> read_guest(const std::string& name) {
  std::ifstream f(test::guest_path(name), std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct GuestMachine {
  explicit GuestMachine(const std::string& guest, uint64_t mem = 64ull << 20)
      : machine(config(guest, mem), MachineImages{read_guest(guest), {}}, serial) {}
  static MachineConfig config(const std::string& guest, uint64_t mem) {
    MachineConfig c;
    c.kernel_path = test::guest_path(guest);
    c.mem_size = mem;
    c.serial = SerialConfig{SerialKind::kNone, ""};
    c.clock = ClockMode::kVirtual;
    c.timeout_sec = 60;
    return c;
  }
  // Runs to just after exit `n` and leaves nothing pending.
  void pause_at(uint64_t n) {
    RunResult r = machine.run(n);
    ASSERT_EQ(r.reason, StopReason::kPaused) << r.message;
    ASSERT_EQ(machine.exits(), n);
  }
  RunResult finish() {
    RunResult r = machine.run();
    EXPECT_TRUE(machine.vcpu().finish_pending_exit());
    return r;
  }
  StringSink serial;
  Machine machine;
};

// Exit counts at which to checkpoint: `n` points spread over a run of
// `total` exits, found by a first straight run.
std::vector<uint64_t> spread(uint64_t total, int n) {
  std::vector<uint64_t> at;
  for (int i = 1; i <= n; ++i) at.push_back(total * i / (n + 1));
  return at;
}

uint64_t total_exits(const std::string& guest) {
  GuestMachine g(guest);
  RunResult r = g.machine.run();
  EXPECT_EQ(r.reason, StopReason::kGuestExit) << r.message;
  return r.exits;
}

struct Straight {
  std::vector<MachineCheckpoints::Id> ids;
  std::vector<MachineDigest> digests;
  MachineDigest end;
  std::string output;
  RunResult result;
};

// Runs `g` from its start, checkpointing at each of `at`, to its end.
Straight straight_run(GuestMachine& g, const std::vector<uint64_t>& at) {
  Straight s;
  for (uint64_t e : at) {
    g.pause_at(e);
    s.ids.push_back(g.machine.checkpoints().take());
    s.digests.push_back(g.machine.checkpoints().digest(s.ids.back()));
  }
  s.result = g.finish();
  s.end = g.machine.checkpoints().digest_now();
  s.output = g.serial.text;
  return s;
}

// From checkpoint `from` (an index into `at`), runs forward taking new
// checkpoints at each later exit of `at` and compares them with the
// straight run's; then to the end.
void rerun_from(GuestMachine& g, const Straight& s, const std::vector<uint64_t>& at, size_t from) {
  MachineCheckpoints& cps = g.machine.checkpoints();
  cps.restore(s.ids[from]);
  EXPECT_EQ(g.machine.exits(), at[from]);
  EXPECT_EQ(cps.digest_now(), s.digests[from])
      << "right after restoring checkpoint " << from
      << " (devices: " << testing::PrintToString(cps.differing_devices(s.ids[from])) << ")";
  size_t output_before = g.serial.text.size();
  for (size_t i = from + 1; i < at.size(); ++i) {
    g.pause_at(at[i]);
    auto id = cps.take();
    EXPECT_EQ(cps.digest(id), s.digests[i])
        << "at exit " << at[i] << ", restored from exit " << at[from] << ": "
        << differing_parts(cps.digest(id), s.digests[i])
        << " differ (devices: " << testing::PrintToString(cps.differing_devices(id, s.ids[i]))
        << ")";
  }
  RunResult r = g.finish();
  EXPECT_EQ(r.reason, s.result.reason);
  EXPECT_EQ(r.status, s.result.status);
  EXPECT_EQ(r.exits, s.result.exits);
  MachineDigest end = cps.digest_now();
  EXPECT_EQ(end, s.end) << differing_parts(end, s.end);
  // The guest printed again what it printed after the checkpoint.
  std::string again = g.serial.text.substr(output_before);
  EXPECT_FALSE(again.empty());
  EXPECT_EQ(s.output.substr(s.output.size() - again.size()), again);
}

class MachineCheckpoint : public testing::TestWithParam<std::string> {};

// Names of the devices whose states differ between two machines.
std::vector<std::string> differing_devices(GuestMachine& a, GuestMachine& b) {
  const DeviceStates& states = a.machine.board().states();
  return states.differing(states.save(), b.machine.board().states().save());
}

TEST_P(MachineCheckpoint, TwoStraightRunsAgreeWithAndWithoutCheckpoints) {
  RRVM_REQUIRE_KVM();
  auto at = spread(total_exits(GetParam()), 5);
  GuestMachine a(GetParam()), b(GetParam());
  for (uint64_t e : at) {
    a.pause_at(e);
    MachineDigest da = a.machine.checkpoints().digest(a.machine.checkpoints().take());
    b.pause_at(e);
    MachineDigest db = b.machine.checkpoints().digest_now();
    EXPECT_EQ(da, db) << "exit " << e << ": " << differing_parts(da, db)
                      << " differ between two straight runs (devices: "
                      << testing::PrintToString(differing_devices(a, b)) << ")";
  }
  RunResult ra = a.finish(), rb = b.finish();
  EXPECT_EQ(ra.status, rb.status);
  EXPECT_EQ(ra.exits, rb.exits);
  EXPECT_EQ(a.machine.checkpoints().digest_now(), b.machine.checkpoints().digest_now());
  EXPECT_EQ(a.serial.text, b.serial.text);
}

TEST_P(MachineCheckpoint, RestoredRunReachesTheStraightRunsDigests) {
  RRVM_REQUIRE_KVM();
  auto at = spread(total_exits(GetParam()), 5);
  GuestMachine g(GetParam());
  Straight s = straight_run(g, at);
  EXPECT_NE(s.digests.front().ram, s.digests.back().ram) << "the guest wrote memory";
  rerun_from(g, s, at, 0);
  // Backwards again from the end, to a later one, then an earlier one.
  rerun_from(g, s, at, 3);
  rerun_from(g, s, at, 1);
}

TEST_P(MachineCheckpoint, DroppingACheckpointKeepsTheOthersExact) {
  RRVM_REQUIRE_KVM();
  auto at = spread(total_exits(GetParam()), 4);
  GuestMachine g(GetParam());
  Straight s = straight_run(g, at);
  uint64_t before = g.machine.checkpoints().bytes_used();
  g.machine.checkpoints().drop(s.ids[1]);
  g.machine.checkpoints().drop(s.ids[0]);
  EXPECT_EQ(g.machine.checkpoints().count(), 2u);
  EXPECT_LT(g.machine.checkpoints().bytes_used(), before);
  // Checkpoint 2 now holds the pages it inherited from 0 and 1.
  Straight rest = s;
  rest.ids.erase(rest.ids.begin(), rest.ids.begin() + 2);
  rest.digests.erase(rest.digests.begin(), rest.digests.begin() + 2);
  std::vector<uint64_t> rest_at(at.begin() + 2, at.end());
  rerun_from(g, rest, rest_at, 0);
}

INSTANTIATE_TEST_SUITE_P(Guests, MachineCheckpoint, testing::Values("pit", "iobench"));

uint64_t sum(const CompletionCounts& c) {
  uint64_t n = 0;
  for (uint64_t v : c) n += v;
  return n;
}

// Instructions rrvm completes for KVM (int3, fwait, clac, stac, popcnt) are counted
// by the machine across pauses and restores, and a pause right after a
// completion that injected #BP leaves that exception going in first: the
// completions guest paused at every exit ends as a straight run does, and
// so does a run restored to just after each completion.
TEST(MachineCheckpoint, CompletionsSurvivePausesAndRestores) {
  RRVM_REQUIRE_KVM();
  GuestMachine straight("completions");
  RunResult s = straight.machine.run();
  ASSERT_EQ(s.reason, StopReason::kGuestExit) << s.message;
  if (sum(s.completions) == 0) GTEST_SKIP() << "this host's KVM emulates all of them itself";

  GuestMachine g("completions");
  std::vector<MachineCheckpoints::Id> after_completion;
  for (uint64_t e = 1; e < s.exits; ++e) {
    uint64_t before = sum(g.machine.completions());
    g.pause_at(e);
    if (sum(g.machine.completions()) > before) {
      after_completion.push_back(g.machine.checkpoints().take());
    }
  }
  RunResult r = g.finish();
  EXPECT_EQ(r.status, s.status) << g.serial.text;
  EXPECT_EQ(r.exits, s.exits);
  EXPECT_EQ(r.completions, s.completions);
  EXPECT_EQ(g.serial.text, straight.serial.text);
  // One exit completes one instruction, or a run of SSE instructions.
  ASSERT_FALSE(after_completion.empty());
  ASSERT_LE(after_completion.size(), sum(s.completions));

  for (auto id : after_completion) {
    g.machine.checkpoints().restore(id);
    RunResult again = g.finish();
    EXPECT_EQ(again.status, s.status) << g.serial.text;
    EXPECT_EQ(again.exits, s.exits);
    EXPECT_EQ(again.completions, s.completions)
        << "restored at exit " << g.machine.checkpoints().exits(id);
  }
}

// The vCPU part alone: every saved piece comes back after being changed.
TEST(VcpuState, RestoreUndoesChangesToEveryPart) {
  RRVM_REQUIRE_KVM();
  GuestMachine g("hello");
  g.pause_at(3);  // in long mode, past the runtime's set-up
  KvmVcpu& v = g.machine.vcpu();
  std::vector<uint32_t> msrs = checkpoint_msrs(v);
  ASSERT_FALSE(msrs.empty());
  VcpuState saved = save_vcpu_state(v, msrs);

  kvm_regs regs = saved.regs;
  regs.rax ^= 0x5a5a;
  regs.rip += 1;
  v.set_regs(regs);
  kvm_sregs sregs = saved.sregs;
  sregs.cr8 = 5;
  v.set_sregs(sregs);
  v.set_msr(msrs.front(), v.get_msr(msrs.front()) ^ 0x1000);
  std::vector<uint8_t> fpu = saved.fpu;
  fpu[0] ^= 0x7f;  // x87 control word
  v.set_fpu_state(fpu);
  kvm_debugregs dr = saved.debugregs;
  dr.db[0] = 0x123000;
  v.set_debugregs(dr);
  v.run_area()->if_flag ^= 1;
  EXPECT_NE(digest(save_vcpu_state(v, msrs)), digest(saved));

  restore_vcpu_state(v, saved);
  VcpuState back = save_vcpu_state(v, msrs);
  EXPECT_EQ(back.regs.rax, saved.regs.rax);
  EXPECT_EQ(back.regs.rip, saved.regs.rip);
  EXPECT_EQ(back.sregs.cr8, saved.sregs.cr8);
  EXPECT_EQ(back.msrs[0].data, saved.msrs[0].data);
  EXPECT_EQ(back.fpu, saved.fpu);
  EXPECT_EQ(back.debugregs.db[0], saved.debugregs.db[0]);
  EXPECT_EQ(back.run.if_flag, saved.run.if_flag);
  EXPECT_EQ(digest(back), digest(saved));
  // And the guest still runs to its normal end.
  RunResult r = g.finish();
  EXPECT_EQ(r.reason, StopReason::kGuestExit) << r.message;
  EXPECT_EQ(r.status, 1) << g.serial.text;
}

}  // namespace
}  // namespace rrvm
