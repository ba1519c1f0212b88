// Replay: re-executes a recording from its InputEvents as an explicit step
// machine (rr's ReplaySession shape). Between natural exits it places the
// asynchronous events (timer advances, landmark + interrupt); at each exit it
// checks digests, dispatches to the same device models, feeds the recorded
// read and clock values back, and injects where the recording injected.
// Nothing here reads the host clock, network or console.
//
// Every disagreement stops replay with a report: which exit, what the
// recording says, what this execution did (DESIGN.md, Verification).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "devices/clock.h"
#include "replay/dirty_tracker.h"
#include "replay/input_event.h"
#include "replay/landmark.h"
#include "vmm/board.h"
#include "vmm/exec_hooks.h"
#include "vmm/exit_dispatch.h"
#include "vmm/kicker.h"
#include "vmm/kvm.h"

namespace rrvm {

struct ReplayOptions {
  uint64_t until = 0;          // stop after this exit ordinal; 0 = run to the end
  bool verify = true;          // check register and memory digests
  double stall_seconds = 120;  // no exit for this long (host time) = diverged
  // Bisect's changed machine (--override): the guest gets what the device
  // models compute instead of the recorded read values, and device clock
  // reads the recording does not hold return the last recorded time. Only
  // external inputs (time, packets, console, asynchronous interrupts) still
  // come from the trace. Turn verification off with it: digests will differ.
  bool follow_models = false;
};

struct ReplayStats {
  uint64_t exits = 0;
  uint64_t events = 0;
  uint64_t landmarks = 0;
  uint64_t breakpoint_hits = 0;
  uint64_t single_steps = 0;
  uint64_t digests_checked = 0;
  uint64_t model_mismatches = 0;  // device model disagreed with the recorded value
  std::string first_model_mismatch;
};

class Replayer final : public ExecHooks {
 public:
  Replayer(EventSource& events, KvmVcpu& vcpu, GuestMemory& mem, Board& board, DirtyTracker& dirty,
           ReplayOptions opts);

  // The clock the machine's devices must read during replay.
  Clock& device_clock() { return clock_; }
  RunResult run();
  // One step of the machine: the asynchronous events after the current
  // exit, then on to the next natural exit and its handling. Returns the
  // end of the replay (finished, diverged, end of trace) when there is one.
  std::optional<RunResult> step();
  // step() in two halves, for bisect's single-stepping in between: the
  // events due before the next exit, then the handling of the natural exit
  // the vCPU stopped at (however it got there).
  std::optional<RunResult> before_next_exit() { return between_exits(); }
  std::optional<RunResult> handle_exit() {
    if (auto stop = at_exit()) return stop;
    return after_exit();
  }
  uint64_t ordinal() const { return ordinal_; }
  // The last recorded events consumed, oldest first.
  const std::deque<InputEvent>& recent_events() const { return recent_; }
  const ReplayStats& stats() const { return stats_; }

  // ExecHooks: the dispatcher shows us each read; we substitute the recording.
  void on_port_read(uint16_t port, std::span<uint8_t> data) override;
  void on_mmio_read(uint64_t addr, std::span<uint8_t> data) override;

 private:
  class TraceClock final : public Clock {
   public:
    explicit TraceClock(Replayer& r) : r_(r) {}
    uint64_t now_ns() override;

   private:
    Replayer& r_;
  };

  std::optional<RunResult> between_exits();
  std::optional<RunResult> run_to_exit();
  std::optional<RunResult> at_exit();
  std::optional<RunResult> check_digests();
  std::optional<RunResult> after_exit();
  std::optional<RunResult> replay_landmark(const Landmark& lm);
  std::optional<RunResult> inject(bool async);
  std::optional<RunResult> finish(const InputEvent& exit_event);
  void substitute_read(InputKind kind, uint64_t addr, std::span<uint8_t> data);

  // The next event if it belongs to exit `ordinal_` and has `kind`.
  const InputEvent* next_at(InputKind kind);
  void consume();
  void diverge(const std::string& what);
  RunResult divergence_result();
  std::string untrappable_hint(uint64_t rip);

  EventSource& events_;
  KvmVcpu& vcpu_;
  GuestMemory& mem_;
  Board& board_;
  DirtyTracker& dirty_;
  ReplayOptions opts_;
  ExitDispatcher dispatch_;
  LandmarkSeeker seeker_;
  TraceClock clock_{*this};
  Kicker kicker_;  // stall watchdog only: replay never kicks for timers
  uint64_t ordinal_ = 0;
  uint64_t last_clock_ = 0;
  std::vector<uint64_t> pending_async_;  // timer advances waiting for their place
  std::deque<InputEvent> recent_;        // last events consumed, for reports
  std::optional<std::string> divergence_;
  bool truncated_ = false;  // the divergence is the trace running out
  ReplayStats stats_;
};

}  // namespace rrvm
