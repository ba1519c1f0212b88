// Replay: re-executes a recording from its trace Events as an explicit step
// machine (rr's ReplaySession shape). Each step places the events recorded
// between exits (timer advances, landmark + interrupt), runs to the next
// natural exit, checks digests, dispatches it to the same device models,
// feeds the recorded read and clock values back, and places the events
// recorded after it (timers, console input, packets, the interrupt injected
// there). Nothing here reads the host clock, network or console.
//
// A trace whose reads are left to the models (the default since format 1.1)
// holds no read values and no interrupts injected at exits: the device
// models answer the reads and the run loop's rule (Board::take_interrupt)
// injects at exits, as in the recording. Under a virtual clock replay also
// runs the clock itself (VirtualClock: a fixed step per exit, halts skipped
// to the next deadline where the trace has a time-skip, spins added where
// it has one). The digests verify all of it.
//
// Every disagreement stops replay with a report: which exit, what the
// recording says, what this execution did (DESIGN.md, Verification).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "devices/clock.h"
#include "replay/debug_registers.h"
#include "replay/dirty_tracker.h"
#include "replay/landmark.h"
#include "trace/event_stream.h"
#include "trace/trace_reader.h"
#include "vmm/board.h"
#include "vmm/exec_hooks.h"
#include "vmm/exit_dispatch.h"
#include "vmm/host_clock.h"
#include "vmm/kicker.h"
#include "vmm/vcpu.h"

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
  // What the trace stores (its header: replay_options_for()). The defaults
  // pair with RecordOptions{}: reads and interrupts at exits left to the
  // device models, host clock values stored.
  bool reads_modelled = true;
  bool virtual_time = false;  // (with reads_modelled) guest time is replay's VirtualClock
  // Why the models may not be the recording's (device_models_note()); shown
  // with any divergence.
  std::string models_note{};
  // From the trace's footer: the recording is complete (running out of its
  // events is then a divergence, not a cut-off trace) and made this many
  // exits (0: unknown); an event at a later exit is a corrupt trace.
  bool complete_trace = false;
  uint64_t recorded_exits = 0;
  // The trace's clock values are host time (its clock is not virtual): the
  // time replay may take to reach a point is then counted from the last
  // recorded time it passed, over all the exits in between. A virtual
  // clock's values say little of how long the guest ran (an exit is 1 us
  // of it, whatever the guest computed in between): each run to an exit or
  // landmark is bounded on its own.
  bool host_time = true;
  // The recorder logs an event within about a second of any exit (a
  // progress event when nothing else; format 1.1): a guest that makes exits
  // for the stall limit without getting to the next event ends there.
  bool progress_logged = true;
};

// The options `reader`'s trace needs: what it stores (its header) and how
// it ended (its footer); the rest default.
ReplayOptions replay_options_for(const trace::TraceReader& reader);

struct ReplayStats {
  uint64_t exits = 0;
  uint64_t events = 0;
  uint64_t landmarks = 0;
  uint64_t breakpoint_hits = 0;
  uint64_t single_steps = 0;
  uint64_t digests_checked = 0;
  uint64_t modelled = 0;          // reads and injections the device models decided
  uint64_t model_mismatches = 0;  // device model disagreed with the recorded value
  std::string first_model_mismatch;
  CompletionCounts completions{};  // instructions rrvm completed for KVM
  uint64_t nmis = 0;               // NMIs injected
};

class Replayer final : public ExecHooks {
 public:
  Replayer(trace::EventSource& events, Vcpu& vcpu, GuestMemory& mem, Board& board,
           DirtyTracker& dirty, ReplayOptions opts);

  // The clock the machine's devices must read during replay.
  Clock& device_clock() { return clock_; }
  RunResult run();
  // One step of the machine: the events recorded before the next exit, then
  // on to that exit and its handling. Returns the end of the replay
  // (finished, diverged, end of trace) when there is one.
  std::optional<RunResult> step();
  // step() in two halves, for bisect's single-stepping in between: the
  // events due before the next exit, then the handling of the natural exit
  // the vCPU stopped at (however it got there).
  std::optional<RunResult> before_next_exit() { return place_events(Phase::kInterval); }
  std::optional<RunResult> handle_exit();
  uint64_t ordinal() const { return ordinal_; }

  // The replay engine's side of a checkpoint (the machine's side is
  // vmm/machine_checkpoint.h): where in the trace it reads, what it holds
  // back for later, its dirty-page sets. Saved between exits (after
  // step()), put back after the machine's state.
  // Time moved between exits, waiting for its place (the next landmark or
  // exit): a recorded timer advance to `ns`, or a spin adding `ns` to the
  // virtual clock.
  struct PendingTime {
    bool spin;
    uint64_t ns;
  };
  struct Position {
    uint64_t ordinal = 0;
    uint64_t last_clock = 0;
    uint64_t exit_time = 0;
    uint64_t latest_time = 0;
    uint64_t virtual_ns = 0;  // the virtual clock, where replay runs it
    std::vector<PendingTime> pending_time;
    bool injected = false;
    std::optional<Completion> completion_going_in;
    std::deque<trace::StoredEvent> recent;
    ReplayStats stats;
    trace::SourceMark source;
    DirtyTracker::State dirty;
  };
  Position save_position();
  void restore_position(const Position& p);

  // Completes the instruction of the exit just handled (before a
  // checkpoint, or before registers are shown to a debugger). False when
  // that made the next exit already (string I/O): the next step() handles
  // it without entering the guest.
  bool complete_exit();

  // A debugger's breakpoints, armed whenever replay runs the vCPU (null:
  // none). A hit stops step() or before_next_exit() with
  // StopReason::kBreakpoint, at the instruction (execution breakpoints) or
  // after it (watchpoints); calling it again goes on from there.
  void set_user_debug(const UserDebugRegs* user);
  // Instruction by instruction (a debugger single-steps the vCPU itself):
  // before_next_exit() places a landmark only where the vCPU stands on it,
  // and otherwise leaves it for a later call.
  void set_stepping(bool on) { stepping_ = on; }
  // From another thread: the run in progress, or the next one, stops with
  // StopReason::kInterrupted (bisect stops a side it let replay ahead of
  // the comparison). restore_position() forgets one not taken yet.
  void interrupt();
  // The last exit's reason (for the caller that single-steps).
  uint32_t exit_reason() const { return vcpu_.run_area()->exit_reason; }
  // The last recorded events consumed, oldest first.
  const std::deque<trace::StoredEvent>& recent_events() const { return recent_; }
  const ReplayStats& stats() const { return stats_; }

  // ExecHooks: the dispatcher shows us each read; we substitute the recording.
  void on_port_read(uint16_t port, std::span<uint8_t> data) override;
  void on_mmio_read(uint64_t addr, std::span<uint8_t> data) override;
  // The dispatcher completed an instruction for KVM: so must the recording have.
  void on_completion(const Completion& c, uint64_t rip) override;
  void on_msr_read(uint32_t msr, std::optional<uint64_t>& value) override;

 private:
  class TraceClock final : public Clock {
   public:
    explicit TraceClock(Replayer& r) : r_(r) {}
    uint64_t now_ns() override;

   private:
    Replayer& r_;
  };

  // Where the replayer stands relative to exit ordinal_: handling it (its
  // events up to the re-entry), or in the interval after it.
  enum class Phase { kExit, kInterval };

  std::optional<RunResult> place_events(Phase phase);
  std::optional<RunResult> place(const trace::ReadEvent& r);
  template <typename Apply>
  std::optional<RunResult> when(Phase phase, Apply apply);
  template <typename Apply>
  std::optional<RunResult> injection(const trace::Event& e, Apply apply);
  std::optional<RunResult> misplaced();
  std::optional<RunResult> halt_skip();
  std::optional<RunResult> end_of_exit();
  std::optional<RunResult> inject_modelled();
  std::optional<RunResult> virtual_time_after_exit();
  std::optional<RunResult> replay_halt();
  bool skip_halt(bool recorded);
  std::optional<RunResult> stopped_here();
  // `idles`: "halts", "sleeps in ACPI S3".
  std::optional<RunResult> unwoken(const std::string& idles);
  bool unreachable_landmark(const trace::LandmarkData& lm);
  void expect_injection_after_landmark();
  // A recorded time: ascending, or the trace is corrupt. `reached`: replay
  // is where the recording read it (an exit, a landmark), so the time it
  // may take to get further counts from here.
  void clock_value(uint64_t ns, uint64_t ordinal, bool reached);
  void reached_time(uint64_t ns);
  // The first recorded time ahead (TimeAhead::what describes its event).
  struct TimeAhead {
    uint64_t ns = 0;
    std::string what;
  };
  std::optional<TimeAhead> time_ahead();
  std::optional<TimeAhead> scan_time_ahead();
  // How long replay may run the guest now to get where the recording was
  // at `ahead` (the stall limit without one), and why.
  struct RunLimit {
    double seconds = 0;
    std::string before;  // what the recording got to in its time; empty: the stall limit
    double allowed = 0;  // seconds for the whole way from exit_time_
  };
  RunLimit run_limit(const std::optional<TimeAhead>& ahead) const;
  RunLimit landmark_limit(const trace::LandmarkData& lm);
  std::string limit_spent(const RunLimit& limit);
  void ran(uint64_t ns);  // replay ran the guest for `ns` (host time)
  std::optional<RunResult> run_to_exit();
  std::optional<RunResult> at_exit();
  std::optional<RunResult> check_digests();
  std::optional<RunResult> landmark(const trace::LandmarkData& lm);
  std::optional<RunResult> reach_landmark(const trace::LandmarkData& lm);
  bool stop_asked();
  void arm_user_debug();
  std::optional<RunResult> inject(uint64_t want);
  std::optional<RunResult> finish(const trace::StoredEvent& exit_event);
  std::optional<RunResult> replay_crash(const RunResult& crash);
  std::optional<RunResult> inject_nmi();
  void note_model_mismatch(uint64_t where, uint64_t recorded, uint64_t model);
  void advance_pending_timers();
  void substitute_read(const trace::Event& model, std::span<uint8_t> data);

  // The next event, notes skipped (they are for people).
  const trace::ReadEvent* peek();
  // The next event if it belongs to exit `ordinal_` and has `kind`.
  const trace::ReadEvent* next_at(trace::EventKind kind);
  // Takes the next event; the copy stays valid until the next consume().
  const trace::StoredEvent& consume();
  // A value the device models gave the guest, listed with the events
  // consumed for reports (not counted as one).
  void remember(const trace::Event& e);
  void keep(trace::StoredEvent e);  // into recent_, the oldest dropped
  std::string next_described();
  // `may_be_cut`: the divergence may be a cut-off trace running out of
  // events (never when it disagrees with a recorded event).
  void diverge(const std::string& what, bool may_be_cut = true);
  RunResult divergence_result();
  std::string untrappable_hint(uint64_t rip);

  trace::LookaheadSource events_;
  Vcpu& vcpu_;
  GuestMemory& mem_;
  Board& board_;
  DirtyTracker& dirty_;
  ReplayOptions opts_;
  ExitDispatcher dispatch_;
  LandmarkSeeker seeker_;
  TraceClock clock_{*this};
  Kicker kicker_;        // stall watchdog only: replay never kicks for timers
  VirtualClock vclock_;  // guest time, when the trace leaves it to replay
  uint64_t ordinal_ = 0;
  uint64_t last_clock_ = 0;
  uint64_t exit_time_ = 0;    // the last recorded time replay has reached
  uint64_t latest_time_ = 0;  // the last recorded time consumed (a kick's may lie ahead)
  uint64_t spent_ns_ = 0;     // host time replay ran the guest since it reached exit_time_
  // The exits since the last event consumed: from which exit, and the host
  // time replay ran the guest since then (progress_logged).
  std::optional<uint64_t> gap_from_;
  uint64_t gap_ns_ = 0;
  std::optional<std::pair<trace::SourceMark, std::optional<TimeAhead>>> ahead_cache_;
  Phase phase_ = Phase::kInterval;
  bool injected_ = false;  // an injection ended the exit phase
  // The exception or interrupt a completion at this exit injected, until the
  // next exit: a checkpoint here puts it back (KVM_GET_VCPU_EVENTS leaves
  // out soft exceptions such as int3's #BP, so the vCPU state lacks it).
  std::optional<Completion> completion_going_in_;
  std::vector<PendingTime> pending_time_;
  std::deque<trace::StoredEvent> recent_;  // last events consumed, for reports
  std::optional<std::string> divergence_;
  bool truncated_ = false;  // the divergence is the trace running out
  ReplayStats stats_;
  const UserDebugRegs* user_ = nullptr;
  bool user_armed_ = false;  // the vCPU's guest debug holds user_'s registers
  bool stepping_ = false;
  bool waiting_ = false;                  // stepping: the next landmark is not here yet
  bool exit_pending_ = false;             // complete_exit() ran into the next exit
  std::atomic<bool> interrupted_{false};  // interrupt() asked, not taken yet
};

}  // namespace rrvm
