// KvmVcpu::sync_registers: the registers KVM copies into the run area are
// what KVM_GET_REGS/SREGS/VCPU_EVENTS return, at every exit and after
// single-steps of a real replay; a setter drops the copy. And the page walk
// done in userspace from them agrees with KVM_TRANSLATE.
#include <gtest/gtest.h>

#include <cstring>

#include "replay/replay_session.h"
#include "replay/single_step.h"
#include "replay/trace_header.h"
#include "tests/kvm/kvm_test_util.h"
#include "trace/trace_reader.h"
#include "vmm/page_walk.h"

namespace rrvm::test {
namespace {

template <typename T>
bool same(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

struct Replay {
  explicit Replay(const std::string& guest)
      : path(record(guest)),
        reader(path),
        cfg(config_from_trace(reader.header())),
        images(images_from_trace(reader)),
        session(reader, cfg, images, serial, replay_options_for(reader), CheckpointPolicy{50}) {
    session.machine().vcpu().sync_registers(true);
  }
  static std::string record(const std::string& guest) {
    std::string out = temp_dir() + "/" + guest + ".rrt";
    CliResult r =
        run_rrvm({"record", "-o", out, "--serial", "none", "--kernel", guest_path(guest)});
    EXPECT_TRUE(r.status == 0 || r.status == 1) << r.err;
    return out;
  }
  std::string path;
  trace::TraceReader reader;
  MachineConfig cfg;
  MachineImages images;
  StringSink serial;
  ReplaySession session;
};

// The copy against the ioctls; false (with a failure) where they differ.
bool copy_matches_ioctls(KvmVcpu& v, const std::string& where) {
  kvm_regs regs = v.get_regs();
  kvm_sregs sregs = v.get_sregs();
  kvm_vcpu_events events = v.get_events();
  v.sync_registers(false);
  EXPECT_FALSE(v.registers_synced());
  bool ok = same(regs, v.get_regs()) && same(sregs, v.get_sregs()) && same(events, v.get_events());
  EXPECT_TRUE(ok) << where << ": the run area's registers differ from KVM's";
  v.sync_registers(true);
  return ok;
}

// walk_page_tables at RIP, RSP and the IDT against KVM_TRANSLATE; counts
// the walks that decided.
int walks_match_kvm(ReplaySession& s, const std::string& where) {
  kvm_regs regs = s.vcpu().get_regs();
  kvm_sregs sregs = s.vcpu().get_sregs();
  int decided = 0;
  for (uint64_t va : {regs.rip, regs.rsp, sregs.idt.base}) {
    PageWalk w = walk_page_tables(s.machine().ram(), sregs, va);
    if (w.kind == PageWalk::kAskKvm) continue;
    ++decided;
    uint64_t gpa = 0;
    bool mapped = s.vcpu().translate(va, &gpa);
    EXPECT_EQ(mapped, w.kind == PageWalk::kMapped) << where << " va " << va;
    if (mapped) {
      EXPECT_EQ(gpa, w.gpa) << where << " va " << va;
    }
  }
  return decided;
}

TEST(SyncRegs, RunAreaCopyIsWhatTheIoctlsReturnAtEveryExit) {
  RRVM_REQUIRE_KVM();
  Replay r("timerhash");
  KvmVcpu& v = r.session.machine().vcpu();
  int exits = 0, synced = 0, walks = 0;
  while (!r.session.next_exit()) {
    std::string where = "exit " + std::to_string(r.session.replayer().ordinal());
    ++exits;
    // Not where a checkpoint (every 50 exits) completed the exit since.
    if (!v.registers_synced()) continue;
    ++synced;
    ASSERT_TRUE(copy_matches_ioctls(v, where));
    walks += walks_match_kvm(r.session, where);
  }
  EXPECT_GT(exits, 100);
  EXPECT_GE(synced, exits - exits / 50 - 1);
  EXPECT_GT(walks, synced) << "the walk decides in long mode";
}

// Stepped as bisect steps: the interval's events placed, then one
// instruction per KVM_RUN (interrupt deliveries and exits among them).
TEST(SyncRegs, RunAreaCopyIsWhatTheIoctlsReturnAfterSingleSteps) {
  RRVM_REQUIRE_KVM();
  Replay r("timerhash");
  KvmVcpu& v = r.session.machine().vcpu();
  uint64_t last = 0;
  while (!r.session.next_exit()) last = r.session.replayer().ordinal();
  int synced = 0, walks = 0;
  for (uint64_t exit = 1; exit < last; exit += 7) {
    ASSERT_FALSE(r.session.seek({exit, 0}));
    ASSERT_FALSE(r.session.replayer().before_next_exit());
    v.set_guest_debug(guest_debug({}, std::nullopt, true));
    for (int i = 0; i < 32; ++i) {
      uint32_t reason = step_instruction(v, r.session.machine().ram());
      std::string where = "exit " + std::to_string(exit) + " step " + std::to_string(i);
      if (v.registers_synced()) {
        ++synced;
        ASSERT_TRUE(copy_matches_ioctls(v, where));
      }
      walks += walks_match_kvm(r.session, where);
      if (reason != KVM_EXIT_DEBUG) break;
    }
    v.set_guest_debug(kvm_guest_debug{});
    r.session.forget_position();
  }
  EXPECT_GT(synced, 500);
  EXPECT_GT(walks, synced);
}

TEST(SyncRegs, AnythingSetDropsTheCopy) {
  RRVM_REQUIRE_KVM();
  Replay r("hello");
  KvmVcpu& v = r.session.machine().vcpu();
  ASSERT_FALSE(r.session.next_exit());
  ASSERT_TRUE(v.registers_synced());
  kvm_regs regs = v.get_regs(), changed = regs;
  changed.rbx ^= 0x5a5a;
  v.set_regs(changed);
  EXPECT_FALSE(v.registers_synced());
  EXPECT_EQ(v.get_regs().rbx, changed.rbx);
  v.set_regs(regs);
  EXPECT_EQ(v.get_regs().rbx, regs.rbx);
  ASSERT_FALSE(r.session.next_exit());
  ASSERT_TRUE(v.registers_synced());
  v.set_guest_debug(kvm_guest_debug{});
  EXPECT_FALSE(v.registers_synced());
}

}  // namespace
}  // namespace rrvm::test
