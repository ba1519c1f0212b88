// PageTrap on KVM: a guest whose pages are trapped runs as it would with
// them mapped (every access to them completed from RAM), and its writes
// meanwhile reach the dirty log. The test replays a recording of the seed
// guest with the MP table's page (which the guest reads) and its stack's
// page (which it writes) trapped in every interval: the replay must match
// the recording to the end, memory digest included, which it does only if
// the trapped accesses read and wrote the right bytes and every page the
// guest wrote is in the log the end-of-run digest covers. The guest also
// loads its GDT from a descriptor on its stack, which KVM cannot complete
// on trapped memory (TouchStop::kStuck).
#include "vmm/page_trap.h"

#include <gtest/gtest.h>

#include <cstring>

#include "replay/first_touch.h"
#include "tests/kvm/kvm_test_util.h"
#include "tests/kvm/trace_replay.h"
#include "vmm/dirty_log.h"
#include "vmm/page_walk.h"
#include "vmm/pc_board.h"

namespace rrvm {
namespace {

// A recording of the seed guest.
std::string seed_trace() {
  std::string trace = test::temp_dir() + "/page-trap-seed.rrt";
  test::CliResult rec = test::run_rrvm({"record", "-o", trace, "--serial", "none", "--kernel",
                                        test::guest_path("seedboot"), "--net", "user", "--clock",
                                        "virtual", "--mptable", "kvm84"});
  EXPECT_EQ(rec.status, 5) << rec.err;
  return trace;
}

TEST(PageTrap, AReplayWithPagesTrappedInEveryIntervalMatchesItsRecording) {
  RRVM_REQUIRE_KVM();
  test::Replay r(seed_trace());
  ReplaySession& s = r.session;
  trace::TraceReader& reader = r.reader;
  Machine& m = s.machine();
  uint64_t mp_page = m.board().bios_tables().mp_floating_addr & ~0xfffull;
  const DifferingMemory nothing({});  // nothing stops the runs but exits
  uint64_t completed = 0, intervals = 0, stuck = 0, stack_written = 0;
  std::optional<RunResult> end;
  while (!end) {
    end = s.replayer().before_next_exit();
    if (end) break;
    std::vector<uint64_t> pages = {mp_page};
    uint64_t stack = 0;
    if (translate_address(m.vcpu(), m.ram(), m.vcpu().get_regs().rsp - 8, &stack) &&
        m.ram().host_ptr(stack & ~0xfffull, 4096))  // not before the guest has a stack
      pages.push_back(stack & ~0xfffull);
    // The stack page is trapped: the guest's writes to it are those
    // PageTrap completes, which must reach the dirty log as well.
    std::vector<uint8_t> stack_before;
    if (pages.size() == 2) {
      const uint8_t* p = m.ram().host_ptr(pages[1], 4096);
      stack_before.assign(p, p + 4096);
    }
    DirtyPages written(*m.ram().dirty_log(), /*host_writes=*/false);
    for (TouchStop t = TouchStop::kStuck; t == TouchStop::kStuck;) {
      {
        PageTrap trap(m.vm(), m.ram(), pages);
        t = run_to_touch(m.vcpu(), trap, nothing, 1'000'000);
        completed += trap.completed();
      }
      // An instruction KVM cannot complete on trapped memory: completed
      // with the pages mapped again, then on with them trapped.
      if (t == TouchStop::kStuck) {
        ++stuck;
        ASSERT_TRUE(m.vcpu().finish_pending_exit());
      }
    }
    written.collect();
    if (!stack_before.empty() &&
        std::memcmp(stack_before.data(), m.ram().host_ptr(pages[1], 4096), 4096) != 0) {
      ++stack_written;
      EXPECT_TRUE(written.test(0, pages[1] / 4096)) << "interval " << intervals;
    }
    ++intervals;
    end = s.replayer().handle_exit();
  }
  EXPECT_EQ(end->reason, StopReason::kGuestExit) << end->message;
  EXPECT_EQ(end->status, 5);
  EXPECT_GT(intervals, 100u);
  EXPECT_GT(completed, 100u) << "the guest's accesses to its stack go through the trap";
  EXPECT_GE(stuck, 1u) << "the guest's LGDT of a descriptor on its stack";
  EXPECT_GT(stack_written, 10u) << "intervals that changed the trapped stack page";
  // What rrvm replay checks at the end: the digests the footer holds, of
  // memory (over every page the guest wrote: the dirty log's) and registers.
  ReplaySummary sum = s.summary(*end);
  ASSERT_TRUE(reader.footer());
  EXPECT_EQ(sum.final_memory_digest, reader.footer()->final_mem_digest);
  EXPECT_EQ(sum.final_register_digest, reader.footer()->final_reg_digest);
}

// Code on a trapped page cannot be fetched as MMIO: KVM stops with an
// emulation failure, which ends the run like any other exit and leaves the
// instruction unexecuted, to run once the page is mapped again.
TEST(PageTrap, AnInstructionFetchFromATrappedPageStopsTheRunBeforeIt) {
  RRVM_REQUIRE_KVM();
  test::Replay r(seed_trace());
  Machine& m = r.session.machine();
  ASSERT_FALSE(r.session.seek({40, 0}));
  ASSERT_FALSE(r.session.replayer().before_next_exit());
  r.session.settle();  // the exit's own instruction completed: RIP at the next one
  kvm_regs before = m.vcpu().get_regs();
  uint64_t code = 0;
  ASSERT_TRUE(translate_address(m.vcpu(), m.ram(), before.rip, &code));
  {
    PageTrap trap(m.vm(), m.ram(), {code & ~0xfffull});
    const DifferingMemory nothing({});
    EXPECT_EQ(run_to_touch(m.vcpu(), trap, nothing, 1000), TouchStop::kOther);
    EXPECT_EQ(m.vcpu().run_area()->exit_reason, uint32_t(KVM_EXIT_INTERNAL_ERROR));
    EXPECT_EQ(trap.completed(), 0u);
    EXPECT_EQ(m.vcpu().get_regs().rip, before.rip);
  }
  // Mapped again, the replay goes on to its end as recorded.
  test::expect_replays_to_the_recorded_end(r);
}

}  // namespace
}  // namespace rrvm
