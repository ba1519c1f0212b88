// Bisect: the first instruction at which two executions part (DESIGN.md,
// Bisect). Both sides are replays: two recordings of the same guest, or one
// recording replayed on the recorded machine (side A) and on a changed
// machine that follows its own device models (side B, --override).
//
// Method:
//  1. Lockstep, exit by exit: both replayers step to their next natural exit
//     and the exits are compared (kind, port or address, data, registers).
//     The first exit N where they differ, or where one side stops (a changed
//     machine asking for an input the trace does not hold), bounds the search.
//  2. Both sides are restored to their last checkpoint before exit N-1, the
//     last common one (taken every few milliseconds of the lockstep:
//     BisectOptions::checkpoint_seconds), and replayed to it without
//     comparing.
//  3. Single-step both from there, comparing registers after every
//     instruction, and the exit data at the exit itself: the first
//     instruction whose result differs is the answer. Only this interval is
//     searched. Where the sides' RAM differs in a few pages, they first run
//     freely with those pages trapped to the instruction that touches a
//     differing byte (replay/first_touch.h): until then they execute alike,
//     so it is the first instruction whose result can differ. That search
//     gives up, and the interval is stepped, wherever it cannot be exact.
// The two sides are independent machines and run at once where the host
// has a core for each: in phase 1 B replays on a thread of its own, up to
// a few exits ahead of A, which compares; in phase 3 the sides step on two
// threads while that beats stepping them one after the other (PairRunner).
// Either way every comparison is the one the plain lockstep makes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "firmware/bios_tables.h"
#include "replay/disassembly.h"
#include "replay/guest_symbols.h"
#include "vmm/machine_config.h"

namespace rrvm {

struct BisectSideSpec {
  std::string trace_path;
  MachineConfig config;  // from the trace, possibly with overrides applied
  bool follow_models = false;
};

class KvmVm;
class ReplaySession;
struct BisectResult;

// One side's replay together with what it replays from, kept alive as
// long as the side: a trace file's reader and KVM machine (the bisect()
// over two BisectSideSpecs), or in unit tests a scripted machine
// (tests/unit/fake_vcpu.h), so that the search runs on any host.
class BisectReplay {
 public:
  virtual ~BisectReplay() = default;
  // A session at the start of its replay, checkpointing only when asked
  // (CheckpointPolicy::every_exits 0: bisect takes its own checkpoints).
  virtual ReplaySession& session() = 0;
  // Where the firmware tables lie in guest RAM, to name differing pages
  // (null: the machine has none).
  virtual const BiosTablesInfo* bios_tables() { return nullptr; }
  // The KVM VM under the session, whose memslots bisect may rearrange to
  // trap pages (vmm/page_trap.h); null: single-stepping only.
  virtual KvmVm* vm() { return nullptr; }
};

struct BisectOptions {
  uint64_t max_steps = 500'000;  // single-step budget for the final interval
  double stall_seconds = 60;
  // Both sides checkpoint during the lockstep once they have replayed this
  // long since their last checkpoint (or 20 times what that one took, if
  // more), so that the final interval is reached from a checkpoint at most
  // about this far before it instead of from exit 0. 0: only the start.
  double checkpoint_seconds = 0.002;
  uint64_t checkpoint_memory = 512ull << 20;  // per side
  // Called now and then with (phase, exits done); phase is "lockstep",
  // "replay to exit N", "single-step", "run to differing memory".
  std::function<void(const std::string& phase, uint64_t exits)> progress;
  // Called with the result and side A's replay before bisect returns
  // (rrvm bisect --gdb): A stands right before the divergent instruction
  // when one was found (else where the lockstep left it).
  std::function<void(const BisectResult& result, ReplaySession& a)> on_result;
};

struct PageDiff {
  uint64_t addr = 0;
  std::string what;  // the firmware table the page holds, if any
};

struct BisectResult {
  bool diverged = false;
  std::string summary;            // one line in words
  uint64_t last_common_exit = 0;  // exit ordinal both executions reached identically
  uint64_t first_differing_exit = 0;
  bool instruction_found = false;
  uint64_t rip = 0;                   // the divergent instruction
  std::string symbol;                 // "main+0x1c" or empty
  uint64_t instructions_stepped = 0;  // single-steps made after the last common exit
  // The divergent instruction is the N-th after the last common exit. Not
  // known when phase 3 ran to it freely (replay/first_touch.h) and nothing
  // asked for the position (on_result does).
  std::optional<uint64_t> instruction_index;
  bool ran_to_touch = false;  // phase 3 ran freely to the memory where the sides differ
  std::vector<DisassembledInsn> disassembly;
  std::string register_diff;  // "rax 0x1 vs 0x2, rip ..."
  std::string input;          // the input at or before it, in words
  std::vector<std::string> recent_inputs_a, recent_inputs_b;
  std::vector<PageDiff> start_pages;       // memory differing before the first instruction
  std::vector<PageDiff> divergence_pages;  // memory differing at the divergence
  uint64_t divergence_pages_total = 0;
  std::string side_a_end, side_b_end;  // how each side's replay ended, if it did
  uint64_t lockstep_exits = 0;
  double lockstep_seconds = 0, replay_seconds = 0, step_seconds = 0;
};

// Throws trace::TraceError / ImageError / KvmUnavailable like replay does.
BisectResult bisect(const BisectSideSpec& a, const BisectSideSpec& b, const GuestSymbols& symbols,
                    const BisectOptions& opts);

// The same search over sides someone else opens: open(0) is A, open(1) is
// B (called on a thread of its own, so that B is built while A is). What
// either throws, bisect throws.
using OpenBisectSide = std::function<std::unique_ptr<BisectReplay>(int side)>;
BisectResult bisect(const OpenBisectSide& open, const GuestSymbols& symbols,
                    const BisectOptions& opts);

}  // namespace rrvm
