// A replaying machine with its position and its checkpoints (DESIGN.md,
// Checkpoints and time travel): what `rrvm replay` and the GDB server's
// target move through a trace.
//
// The position is an exit ordinal and the instructions single-stepped since
// that exit was handled; between exits only single-stepping knows where the
// guest is. Checkpoints are taken at exits (every `every_exits`), within a
// memory budget, thinned as they age: more of them near the present, the
// first one (the start of the trace) always kept. Going anywhere is
// restoring the nearest checkpoint at or before it and replaying forward.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/char_backend.h"
#include "replay/debug_registers.h"
#include "replay/dirty_tracker.h"
#include "replay/replayer.h"
#include "replay/session.h"
#include "trace/event_stream.h"
#include "vmm/machine.h"
#include "vmm/machine_checkpoint.h"

namespace rrvm {

struct CheckpointPolicy {
  uint64_t every_exits = 2000;           // 0: only the start (and take_checkpoint())
  uint64_t memory_bytes = 512ull << 20;  // --checkpoint-memory
  // Also after this much host time replaying since the last one (0: not
  // by time), so that a trace with few, long intervals is covered too.
  double every_seconds = 0;
};

// What a session replays on: a machine's parts (vmm/machine_checkpoint.h),
// the clock its devices read (pointed at the trace for the session's
// life), and the checkpoints kept over those parts.
struct SessionMachine {
  Vcpu& vcpu;
  GuestRam& ram;
  Board& board;
  ForwardingClock& device_clock;
  MachineCheckpoints& checkpoints;
};

struct SessionPosition {
  uint64_t exit = 0;   // exits replayed and handled
  uint64_t steps = 0;  // instructions single-stepped since
  auto operator<=>(const SessionPosition&) const = default;
  std::string text() const;  // "exit 12, instruction 3"
};

class ReplaySession {
 public:
  // A machine built from `cfg` and `images` (the trace's), replaying the
  // events `reader` holds. Its serial output goes to `serial`, each byte
  // once: re-executing a stretch already replayed prints nothing again.
  // `cpu`: the CPU the trace recorded (Machine's `recorded`; null: the
  // one cfg.cpu names).
  ReplaySession(trace::TraceReader& reader, const MachineConfig& cfg, const MachineImages& images,
                CharSink& serial, const ReplayOptions& opts, const CheckpointPolicy& policy,
                const RecordedCpu* cpu = nullptr);
  // Over a machine someone else built and owns (unit tests: a scripted
  // vCPU, tests/unit/fake_vcpu.h), replaying `events`; the machine is at
  // its start, before its first exit. No serial output is filtered.
  ReplaySession(trace::EventSource& events, const SessionMachine& machine,
                const ReplayOptions& opts, const CheckpointPolicy& policy);
  ~ReplaySession();
  ReplaySession(const ReplaySession&) = delete;
  ReplaySession& operator=(const ReplaySession&) = delete;

  // The KVM machine a session built from a trace owns; throws
  // std::logic_error for a session over a machine given in parts.
  Machine& machine();
  Replayer& replayer() { return *replayer_; }
  Vcpu& vcpu() { return m_.vcpu; }
  GuestRam& ram() { return m_.ram; }
  Board& board() { return m_.board; }

  // Where the machine stands; nullopt right after a breakpoint stopped a
  // run between exits (only an exit or a seek makes it known again).
  std::optional<SessionPosition> position() const;
  // The machine was moved by someone else (bisect's lockstep stepping):
  // the next seek restores a checkpoint.
  void forget_position() { known_ = false; }
  // Completes the last exit's instruction, so registers read now are the
  // guest's after it (an IN's value in RAX, RIP past it).
  void settle();
  // How the replay ended, once a move reached the end, and where.
  const std::optional<RunResult>& end() const { return end_; }
  SessionPosition end_position() const { return end_pos_; }

  // On to the next exit; a checkpoint there when one is due. The end of
  // the replay, a debugger's breakpoint (StopReason::kBreakpoint), or an
  // interrupt stop it.
  std::optional<RunResult> next_exit();
  // next_exit() to the end.
  RunResult run();
  // One instruction (the exit it makes is handled). `dr6` gets the debug
  // status of the step (the debugger's watchpoints it hit).
  std::optional<RunResult> step_instruction(uint64_t* dr6 = nullptr);
  // Goes to `p`: restores the nearest checkpoint before it unless `p` is
  // ahead in the same or a later interval, then replays and steps forward.
  std::optional<RunResult> seek(SessionPosition p);
  // Instructions from (exit, 0) to the next exit (single-stepped once,
  // then remembered); leaves the machine at the next exit.
  std::optional<uint64_t> interval_length(uint64_t exit);

  // Breakpoints and watchpoints the debugger arms for free runs; while
  // single-stepping only the watchpoints (`step_watch`) are armed.
  void set_user_debug(const UserDebugRegs& run, const UserDebugRegs& step_watch);

  // A checkpoint here, now, outside the policy's schedule (a caller that
  // must look at the exit first, like bisect). False where none can be
  // taken: the position is unknown, or completing the exit made the next.
  bool take_checkpoint();
  std::vector<uint64_t> checkpoint_exits() const;
  uint64_t checkpoint_bytes() const { return m_.checkpoints.bytes_used(); }
  const CheckpointPolicy& policy() const { return policy_; }
  // The digest of the whole machine now (a checkpoint's digest), for tests.
  MachineDigest digest_now();
  std::optional<MachineDigest> checkpoint_digest(uint64_t exit) const;
  // What `rrvm replay` prints at the end.
  ReplaySummary summary(const RunResult& r);

 private:
  // Serial output passed on only past the furthest point written so far.
  class OnceSink final : public CharSink {
   public:
    explicit OnceSink(CharSink& out) : out_(out) {}
    void write(uint8_t byte) override {
      if (written_++ >= high_) {
        out_.write(byte);
        high_ = written_;
      }
    }
    uint64_t written_ = 0, high_ = 0;

   private:
    CharSink& out_;
  };
  struct Saved {
    MachineCheckpoints::Id id;
    Replayer::Position replay;
    uint64_t serial_written = 0;
  };

  void start(trace::EventSource& events, const ReplayOptions& opts);
  std::optional<RunResult> ended(std::optional<RunResult> r);
  bool at_end() const;
  void maybe_checkpoint();
  void take(uint64_t exit);
  void thin();
  void restore(uint64_t exit);

  OnceSink serial_;
  std::unique_ptr<Machine> owned_;  // null when the machine was given in parts
  std::unique_ptr<trace::ReaderSource> reader_source_;
  SessionMachine m_;
  Clock* devices_read_ = nullptr;  // the device clock's target before the session
  std::unique_ptr<DirtyTracker> dirty_;
  std::unique_ptr<Replayer> replayer_;
  CheckpointPolicy policy_;
  std::map<uint64_t, Saved> saved_;  // by exit
  std::map<uint64_t, uint64_t> interval_steps_;
  UserDebugRegs run_debug_, step_debug_;
  uint64_t steps_ = 0;
  bool known_ = true;
  uint64_t last_take_ns_ = 0;
  std::optional<RunResult> end_;
  SessionPosition end_pos_;
};

}  // namespace rrvm
