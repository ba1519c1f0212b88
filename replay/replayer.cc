#include "replay/replayer.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <type_traits>

#include "devices/hex.h"
#include "devices/io_device.h"
#include "replay/device_models.h"
#include "replay/untrappable.h"
#include "trace/trace_inspect.h"
#include "vmm/cpu_dump.h"

namespace rrvm {

using trace::ClockSource;
using trace::Event;
using trace::EventKind;
using trace::StoredEvent;
using trace::TimeSkip;

namespace {
constexpr size_t kRecentEvents = 8;

bool natural_exit(uint32_t reason) {
  return reason != KVM_EXIT_IRQ_WINDOW_OPEN && reason != KVM_EXIT_INTR && reason != KVM_EXIT_DEBUG;
}

// Ring-3 code runs natively on nested (PVM) hosts and never reports a debug
// exit there: a landmark in ring 3 that draws no breakpoint hit within a few
// seconds is that host limitation, not a divergence of the guest.
constexpr double kRing3ProbeSeconds = 3;

// Replay may take this much longer than the recording took between two
// recorded times (ring-0 code that ran natively where it was recorded is
// emulated on a nested host; breakpoint hits on the way to a landmark cost
// ~35 us each: timerhash's searches take ~4 times the recorded time here),
// plus this much for host noise. Only the time the guest runs counts, not
// exit handling or a debugger's pauses, and the count starts afresh at every
// recorded time passed, so the slack covers the vCPU thread being kept off
// the CPU within one gap between recorded times.
constexpr double kReplaySlowdown = 200;
constexpr double kSlackSeconds = 2;
// How far ahead replay looks for the next recorded time (events; a
// recording logs one at nearly every exit whose devices read the clock).
constexpr size_t kLookahead = 64;

bool carries_time(const Event& e) {
  return e.is_clock(ClockSource::kDevice) || e.is_clock(ClockSource::kTimerExit) ||
         e.is_clock(ClockSource::kTimerAsync);
}

// A recording's clock never goes back (one host clock, or the virtual one,
// read by one thread in trace order): a value below the one before is
// damage.
void check_order(uint64_t before, uint64_t ns, uint64_t ordinal) {
  if (ns < before)
    throw trace::TraceError("the recording's clock goes backwards at exit " +
                            std::to_string(ordinal) + ": " + std::to_string(ns) + " ns after " +
                            std::to_string(before) + " ns");
}

// Hands the host time from its construction to its destruction to `done`.
template <typename Done>
class HostTimer {
 public:
  explicit HostTimer(Done done) : done_(done), start_(Kicker::monotonic_ns()) {}
  ~HostTimer() { done_(Kicker::monotonic_ns() - start_); }
  HostTimer(const HostTimer&) = delete;
  HostTimer& operator=(const HostTimer&) = delete;
  uint64_t deadline(double seconds) const { return start_ + uint64_t(seconds * 1e9); }

 private:
  Done done_;
  uint64_t start_;
};

// Stop reasons a recording can end with (the others are replay's own).
bool recordable(uint64_t code) {
  if (code > 255) return false;
  switch (static_cast<StopReason>(code)) {
    case StopReason::kGuestExit:
    case StopReason::kPowerOff:
    case StopReason::kTripleFault:
    case StopReason::kEmulationFailure:
    case StopReason::kEntryFailure:
    case StopReason::kHaltedForever:
    case StopReason::kUnmappedAccess:
    case StopReason::kTimeout:
    case StopReason::kInterrupted:
      return true;
    default:
      return false;
  }
}

std::string seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", s);
  return b;
}
}  // namespace

ReplayOptions replay_options_for(const trace::TraceReader& reader) {
  const trace::HeaderInfo& header = reader.header();
  ReplayOptions o;
  o.reads_modelled = header.reads_modelled;
  o.virtual_time = header.reads_modelled && header.clock_mode == "virtual";
  o.host_time = header.clock_mode != "virtual";
  o.progress_logged = header.format_major > 1 || header.format_minor >= 1;
  o.models_note = device_models_note(header);
  o.complete_trace = reader.complete();
  if (reader.footer()) o.recorded_exits = reader.footer()->exits;
  return o;
}

Replayer::Replayer(trace::EventSource& events, Vcpu& vcpu, GuestMemory& mem, Board& board,
                   DirtyTracker& dirty, ReplayOptions opts)
    : events_(events),
      vcpu_(vcpu),
      mem_(mem),
      board_(board),
      dirty_(dirty),
      opts_(opts),
      dispatch_(vcpu, mem, board, /*strict_io=*/false, *this),
      seeker_(vcpu, dirty),
      kicker_(vcpu.run_area()) {
  dirty_.reset();
}

RunResult Replayer::run() {
  for (;;) {
    if (auto stop = step()) return *stop;
  }
}

std::optional<RunResult> Replayer::step() {
  if (auto stop = place_events(Phase::kInterval)) return stop;
  if (opts_.until && ordinal_ >= opts_.until) {
    return RunResult{StopReason::kEndOfTrace, 0,
                     "replay stopped at exit " + std::to_string(ordinal_) + " (--until)", ordinal_};
  }
  if (auto stop = run_to_exit()) return stop;
  return handle_exit();
}

std::optional<RunResult> Replayer::handle_exit() {
  if (auto stop = at_exit()) return stop;
  phase_ = Phase::kExit;
  if (auto stop = virtual_time_after_exit()) return stop;
  return place_events(Phase::kExit);
}

// The events recorded at exit ordinal_ that the replayer places itself, in
// recording order, while they belong to `phase`: handling the exit, up to
// the first event of the interval after it; in the interval, up to the next
// exit's events or the end of the trace.
std::optional<RunResult> Replayer::place_events(Phase phase) {
  phase_ = phase;
  waiting_ = false;
  while (phase_ == phase && !waiting_) {
    if (divergence_) return divergence_result();
    const trace::ReadEvent* r = peek();
    // Past the footer's exit count the trace contradicts itself; waiting
    // for that exit could take forever (a guest idling or spinning).
    if (r && opts_.recorded_exits && r->event.ordinal > opts_.recorded_exits)
      throw trace::TraceError("the recording has " + next_described() + ", after the " +
                              std::to_string(opts_.recorded_exits) +
                              " exits its footer says it made");
    if (!r || r->event.ordinal != ordinal_) break;
    if (auto stop = place(*r)) return stop;
  }
  if (phase == Phase::kExit) return end_of_exit();
  if (waiting_) return std::nullopt;
  if (!peek() && opts_.complete_trace) {
    diverge("the recording's events end after exit " + std::to_string(ordinal_) +
                " without a guest-exit record, though the trace is complete",
            /*may_be_cut=*/false);
    return divergence_result();
  }
  if (!peek()) {
    return RunResult{StopReason::kEndOfTrace, 0,
                     "the trace ends after exit " + std::to_string(ordinal_) +
                         " without a guest exit record (truncated recording); replayed that far",
                     ordinal_};
  }
  return std::nullopt;
}

// One case per kind the replayer places itself, saying in which phase the
// recorder logs it (recorder.h). Reads, device clock reads and digests are
// not here: the execution asks for them while the exit is handled
// (on_port_read, on_mmio_read, TraceClock, check_digests).
std::optional<RunResult> Replayer::place(const trace::ReadEvent& r) {
  const Event& e = r.event;
  switch (e.kind) {
    case EventKind::kClockRead:
      if (e.is_clock(ClockSource::kTimerExit))
        return when(Phase::kExit, [&](const StoredEvent& s) {
          clock_value(s.event.value(), s.event.ordinal, /*reached=*/true);
          board_.advance_timers(s.event.value());
        });
      if (e.is_clock(ClockSource::kTimerAsync))
        return when(Phase::kInterval, [&](const StoredEvent& s) {
          clock_value(s.event.value(), s.event.ordinal, /*reached=*/false);
          pending_time_.push_back({false, s.event.value()});
        });
      // A changed machine whose devices read the clock less often than the
      // recorded ones (follow_models): a value nobody asked for, passed
      // over as next_at() does.
      if (opts_.follow_models && e.is_clock(ClockSource::kDevice)) {
        clock_value(e.value(), e.ordinal, /*reached=*/true);
        last_clock_ = consume().event.value();
        return std::nullopt;
      }
      break;
    case EventKind::kConsoleInput:
      return when(Phase::kExit, [&](const StoredEvent& s) {
        if (board_.console_input) board_.console_input(s.bytes);
      });
    case EventKind::kPacket:
      return when(Phase::kExit, [&](const StoredEvent& s) {
        if (board_.net_input) board_.net_input(s.bytes);
      });
    case EventKind::kLandmark:
      if (phase_ == Phase::kExit) {  // as when(): the exit's events end here
        phase_ = Phase::kInterval;
        return std::nullopt;
      }
      return landmark(r.landmark ? *r.landmark : trace::LandmarkData{});
    case EventKind::kInterrupt:
      return injection(e, [&](const StoredEvent& s) { return inject(s.event.a); });
    case EventKind::kNmi:
      return injection(e, [&](const StoredEvent&) { return inject_nmi(); });
    case EventKind::kGuestExit:
      return when(Phase::kInterval, [&](const StoredEvent& s) { return finish(s); });
    case EventKind::kProgress:
      return when(Phase::kInterval, [](const StoredEvent&) {});
    case EventKind::kTimeSkip:
      if (e.is_skip(TimeSkip::kSpin))
        return when(Phase::kInterval, [&](const StoredEvent& s) {
          pending_time_.push_back({true, s.event.ns()});
        });
      return halt_skip();
    default:
      break;
  }
  // No place of its own: it ends the exit phase, and is out of place in
  // the interval.
  if (phase_ == Phase::kExit) {
    phase_ = Phase::kInterval;
    return std::nullopt;
  }
  return misplaced();
}

// Applies the front event, which the recorder logs in `phase`, if replay is
// there: it is consumed, then `apply` gets the copy. In the exit phase an
// event of the interval ends the phase (not consumed); in the interval an
// event of the exit phase is out of place.
template <typename Apply>
std::optional<RunResult> Replayer::when(Phase phase, Apply apply) {
  if (phase != phase_) {
    if (phase_ == Phase::kInterval) return misplaced();
    phase_ = Phase::kInterval;
    return std::nullopt;
  }
  const StoredEvent& s = consume();
  if constexpr (std::is_void_v<std::invoke_result_t<Apply, const StoredEvent&>>) {
    apply(s);
    return std::nullopt;
  } else {
    return apply(s);
  }
}

// An injected input takes effect at the exit, as the last event of its
// phase, or right after the landmark recorded for it.
template <typename Apply>
std::optional<RunResult> Replayer::injection(const Event& e, Apply apply) {
  if (!e.at_landmark()) {
    return when(Phase::kExit, [&](const StoredEvent& s) {
      injected_ = true;
      phase_ = Phase::kInterval;
      return apply(s);
    });
  }
  bool after_landmark = !recent_.empty() && recent_.back().event.kind == EventKind::kLandmark;
  if (phase_ == Phase::kInterval && !after_landmark) {
    diverge("the recording has " + next_described() + " without a landmark before it");
    return divergence_result();
  }
  return when(Phase::kInterval, apply);
}

std::optional<RunResult> Replayer::misplaced() {
  diverge("the recording has " + next_described() + " where replay is between exits");
  return divergence_result();
}

// A halt skip replay_halt() did not take: the recording's guest went on
// halting where this one did not halt, or was woken. A changed machine
// (follow_models) keeps to its own models: the skip is passed over.
std::optional<RunResult> Replayer::halt_skip() {
  if (opts_.follow_models) {
    consume();
    return std::nullopt;
  }
  bool halted = vcpu_.run_area()->exit_reason == KVM_EXIT_HLT && phase_ == Phase::kExit;
  diverge("the recording's guest halts on until its next timer at exit " +
          std::to_string(ordinal_) + " (" + next_described() + "); here " +
          (halted ? "the device models woke it" : "the guest did not halt there"));
  return divergence_result();
}

// Re-entry after exit ordinal_: an interrupt the device models raise and
// the guest could take, which the recording did not inject there, means
// the two executions differ.
std::optional<RunResult> Replayer::end_of_exit() {
  phase_ = Phase::kInterval;
  if (injected_) return std::nullopt;
  if (board_.stop) return stopped_here();  // its guest-exit record follows, at this exit
  if (board_.sleeping()) return unwoken("sleeps in ACPI S3");
  if (board_.interrupts && board_.interrupts->nmi_pending() &&
      nmi_window_open(vcpu_.get_events())) {
    diverge("the device models raise an NMI at exit " + std::to_string(ordinal_) +
            " that the recording did not inject");
    return divergence_result();
  }
  if (opts_.reads_modelled) return inject_modelled();
  kvm_run* run = vcpu_.run_area();
  if (board_.interrupts && board_.interrupts->has_interrupt() && run->if_flag &&
      run->ready_for_interrupt_injection) {
    diverge("the device models raise an interrupt at exit " + std::to_string(ordinal_) +
            " that the recording did not inject");
    return divergence_result();
  }
  if (run->exit_reason == KVM_EXIT_HLT) return unwoken("halts");
  return std::nullopt;
}

// Injection at an exit, decided by the device models as the run loop did
// (VcpuLoop::prepare_entry). A halted guest that nothing wakes is a
// divergence: the recording's run loop left a halt only with an interrupt
// to take (or with its stop, logged next).
std::optional<RunResult> Replayer::inject_modelled() {
  kvm_run* run = vcpu_.run_area();
  if (auto vector = board_.take_interrupt(*run)) {
    vcpu_.interrupt(*vector);
    ++stats_.modelled;
    remember(Event::interrupt(ordinal_, *vector, false));
    return std::nullopt;
  }
  bool pending = board_.interrupts && board_.interrupts->has_interrupt();
  const trace::ReadEvent* r = peek();
  bool stops_here = r && r->event.ordinal == ordinal_ && r->event.kind == EventKind::kGuestExit;
  if (run->exit_reason == KVM_EXIT_HLT && !pending && !stops_here && r) {
    diverge("the guest halted at exit " + std::to_string(ordinal_) +
            " and the device models raise no interrupt to wake it; the recording went on with " +
            next_described());
    return divergence_result();
  }
  return std::nullopt;
}

// Guest time after exit ordinal_ when replay runs the virtual clock: the
// timers due now fire, and a halted guest waits as the recording's did.
std::optional<RunResult> Replayer::virtual_time_after_exit() {
  if (!opts_.virtual_time) return std::nullopt;
  if (vcpu_.run_area()->exit_reason == KVM_EXIT_HLT || board_.sleeping()) return replay_halt();
  board_.advance_due_timers(vclock_.now_ns());
  return std::nullopt;
}

// VcpuLoop::handle_hlt (and VcpuLoop::sleep) under a virtual clock, with
// the inputs and skips the recording logged at this exit, in their order:
// fire the timers due, stop when the guest can take an interrupt (or the
// machine woke from S3), else deliver the next input or skip to the next
// timer deadline where the recording did.
std::optional<RunResult> Replayer::replay_halt() {
  kvm_run* run = vcpu_.run_area();
  uint64_t deadline = Kicker::monotonic_ns() + uint64_t(opts_.stall_seconds * 1e9);
  bool asleep = board_.sleeping();
  auto woken = [&] {
    if (asleep) return !board_.sleeping();
    return board_.interrupts && board_.interrupts->has_interrupt() && run->if_flag;
  };
  for (;;) {
    board_.advance_due_timers(vclock_.now_ns());
    if (woken()) return std::nullopt;
    if (divergence_) return divergence_result();
    const trace::ReadEvent* r = peek();
    if (r && r->event.ordinal != ordinal_) r = nullptr;  // nothing more at this exit
    if (r && (r->event.kind == EventKind::kPacket || r->event.kind == EventKind::kConsoleInput)) {
      if (auto stop = place(*r)) return stop;
      continue;
    }
    bool recorded = r && r->event.is_skip(TimeSkip::kHalt);
    if (!recorded && !opts_.follow_models) return std::nullopt;  // end_of_exit judges
    if (!skip_halt(recorded)) {
      if (recorded) return divergence_result();
      return std::nullopt;
    }
    if (Kicker::monotonic_ns() > deadline) {
      diverge("the guest halted at exit " + std::to_string(ordinal_) +
              " and its timers never raise an interrupt it takes");
      return divergence_result();
    }
  }
}

// One skip to the next timer deadline (consuming the recorded one); false
// when no timer is armed.
bool Replayer::skip_halt(bool recorded) {
  auto due = board_.next_deadline();
  if (!due) {
    if (recorded)
      diverge("the recording's guest halted at exit " + std::to_string(ordinal_) +
              " until its next timer; here the device models have no timer armed");
    return false;
  }
  if (recorded) consume();
  vclock_.skip_to(*due);
  return true;
}

// The recording stopped where the machine stopped: its guest-exit record
// is due at this exit, not later.
std::optional<RunResult> Replayer::stopped_here() {
  const trace::ReadEvent* r = peek();
  if (!r || r->event.ordinal == ordinal_) return std::nullopt;
  diverge("the guest stops at exit " + std::to_string(ordinal_) + " (status " +
          std::to_string(board_.stop->status) + ") where the recording goes on to exit " +
          std::to_string(r->event.ordinal));
  return divergence_result();
}

// The recording re-entered a halted guest only with an interrupt for it
// (at this exit, or at a landmark after it), and a sleeping machine only
// once it woke: with nothing recorded for this exit any more, the guest
// idles where the recording did not, and would make HLT exits forever
// short of the next recorded one (or run while its machine sleeps).
std::optional<RunResult> Replayer::unwoken(const std::string& idles) {
  const trace::ReadEvent* r = peek();
  if (!r || r->event.ordinal == ordinal_) return std::nullopt;
  diverge("the guest " + idles + " at exit " + std::to_string(ordinal_) +
          " and the recording holds nothing to wake it (its next event is at exit " +
          std::to_string(r->event.ordinal) + ")");
  return divergence_result();
}

void Replayer::clock_value(uint64_t ns, uint64_t ordinal, bool reached) {
  check_order(latest_time_, ns, ordinal);
  latest_time_ = ns;
  if (reached) reached_time(ns);
}

void Replayer::reached_time(uint64_t ns) {
  exit_time_ = std::max(exit_time_, ns);
  spent_ns_ = 0;
}

std::optional<Replayer::TimeAhead> Replayer::time_ahead() {
  trace::SourceMark here = events_.mark();
  if (!ahead_cache_ || ahead_cache_->first != here) ahead_cache_.emplace(here, scan_time_ahead());
  return ahead_cache_->second;
}

// The first recorded time within kLookahead events, and the one after it
// checked against it: a time beyond the ones that follow it is damage,
// reported now rather than after the search it would bound.
std::optional<Replayer::TimeAhead> Replayer::scan_time_ahead() {
  std::optional<TimeAhead> first;
  uint64_t before = latest_time_;
  for (size_t n = 0; n < kLookahead; ++n) {
    const trace::ReadEvent* r = events_.ahead(n);
    if (!r) break;
    if (!carries_time(r->event)) continue;
    check_order(before, r->event.value(), r->event.ordinal);
    if (first) break;
    first = TimeAhead{r->event.value(), trace::format_event(*r)};
    before = first->ns;
  }
  return first;
}

// The recording got to `ahead` within its recorded time from the last time
// replay reached; replay may take kReplaySlowdown times that, plus
// kSlackSeconds, less what it has run since. Otherwise the stall limit, less
// the time the guest has made exits since the last event (progress_logged).
Replayer::RunLimit Replayer::run_limit(const std::optional<TimeAhead>& ahead) const {
  double gap = opts_.progress_logged && gap_from_ ? double(gap_ns_) * 1e-9 : 0;
  RunLimit limit{opts_.stall_seconds - gap, "", 0};
  if (!ahead) return limit;
  uint64_t recorded = ahead->ns > exit_time_ ? ahead->ns - exit_time_ : 0;
  double allowed = kSlackSeconds + kReplaySlowdown * double(recorded) * 1e-9;
  double left = allowed - double(spent_ns_) * 1e-9;
  return left < limit.seconds ? RunLimit{left, ahead->what, allowed} : limit;
}

void Replayer::ran(uint64_t ns) {
  spent_ns_ += ns;
  if (gap_from_) gap_ns_ += ns;
}

// A landmark search: bounded by the next recorded time, else by the time
// of the kick before it (the landmark is at the kick, or at an interrupt
// window soon after it).
Replayer::RunLimit Replayer::landmark_limit(const trace::LandmarkData& lm) {
  std::optional<TimeAhead> ahead = time_ahead();
  uint64_t kick = 0;
  for (const PendingTime& t : pending_time_)
    if (!t.spin) kick = std::max(kick, t.ns);
  if (!ahead && kick) ahead = TimeAhead{kick, "its kick at " + std::to_string(kick) + " ns"};
  RunLimit limit = run_limit(ahead);
  if (lm.cpl == 3) limit.seconds = std::min(limit.seconds, kRing3ProbeSeconds);
  return limit;
}

// Why a limit is spent before the run: the time the recording took to
// `limit.before`, or the exits since the last event.
std::string Replayer::limit_spent(const RunLimit& limit) {
  if (limit.before.empty())
    return "the guest has made exits for " + seconds(double(gap_ns_) * 1e-9) + " since exit " +
           std::to_string(gap_from_.value_or(ordinal_)) + " without getting to " +
           next_described() + " (a recording logs an event within a second of an exit)";
  return "replay has run the guest " + seconds(double(spent_ns_) * 1e-9) +
         " since the recorded time " + std::to_string(exit_time_) +
         " ns, and the recording got to " + limit.before + " in less than " +
         seconds((limit.allowed - kSlackSeconds) / kReplaySlowdown) + " (" +
         seconds(limit.allowed) + " allowed)";
}

// No breakpoint can hit a RIP where no guest code is mapped: say so at once
// (noted with diverge(); true when it was).
bool Replayer::unreachable_landmark(const trace::LandmarkData& lm) {
  uint8_t byte = 0;
  if (read_guest_code(vcpu_, mem_, lm.rip, {&byte, 1}).value_or(0) == 1) return false;
  diverge("landmark after exit " + std::to_string(ordinal_) + " at rip " + hex(lm.rip) +
              ": no guest code is mapped there, so the guest cannot reach it",
          /*may_be_cut=*/false);
  return true;
}

// The landmark at the front of the trace: consumed once reached. A
// debugger's breakpoint hit on the way, or a Ctrl-C, leaves it there to be
// sought again.
std::optional<RunResult> Replayer::landmark(const trace::LandmarkData& lm) {
  if (stepping_ && !seeker_.stands_on(lm)) {
    waiting_ = true;
    return std::nullopt;
  }
  if (auto stop = reach_landmark(lm)) return stop;
  consume();
  if (divergence_) return divergence_result();
  expect_injection_after_landmark();
  dirty_.reset();
  ++stats_.landmarks;
  advance_pending_timers();
  return std::nullopt;
}

void Replayer::interrupt() {
  interrupted_ = true;
  kicker_.kick_now();
}

// A kicked run ends here: SIGINT/SIGTERM, or interrupt(). Taking the
// interrupt clears it.
bool Replayer::stop_asked() {
  return Kicker::stop_signal() || interrupted_.exchange(false);
}

// A recording logs a landmark only for the interrupt or NMI it injects
// there, right after it (recorder.h): anything else after one is damage.
// (A trace cut off between the two ends there.)
void Replayer::expect_injection_after_landmark() {
  const trace::ReadEvent* r = peek();
  if (!r) return;
  const Event& e = r->event;
  bool injection = (e.kind == EventKind::kInterrupt || e.kind == EventKind::kNmi) &&
                   e.at_landmark() && e.ordinal == ordinal_;
  if (!injection)
    throw trace::TraceError("the recording has " + next_described() +
                            " after the landmark after exit " + std::to_string(ordinal_) +
                            ", where only the interrupt or NMI injected there can follow");
}

// Runs the vCPU to the landmark; a stop when a debugger's breakpoint or a
// signal comes first. A divergence is noted (diverge()), not returned.
std::optional<RunResult> Replayer::reach_landmark(const trace::LandmarkData& lm) {
  if (unreachable_landmark(lm)) return std::nullopt;
  if (!opts_.host_time) spent_ns_ = 0;  // each search bounded on its own
  RunLimit limit = landmark_limit(lm);
  std::string where = "landmark after exit " + std::to_string(ordinal_) + " at rip " + hex(lm.rip);
  if (limit.seconds <= 0 && !seeker_.stands_on(lm)) {
    diverge(where + " not reached: " + limit_spent(limit) +
            ": the guest's state differs from the recording's");
    return std::nullopt;
  }
  uint64_t hits_before = seeker_.stats().hits;
  HostTimer timer([this](uint64_t ns) { ran(ns); });
  uint64_t deadline = timer.deadline(limit.seconds);
  kicker_.arm(deadline);
  user_armed_ = false;  // the seeker sets the guest debug registers itself
  for (;;) {
    if (interrupted_ && stop_asked())
      return RunResult{StopReason::kInterrupted, 130, "interrupted", ordinal_};
    SeekOutcome o = seeker_.seek(lm);
    stats_.breakpoint_hits = seeker_.stats().hits;
    stats_.single_steps = seeker_.stats().steps;
    if (o == SeekOutcome::kReached) return std::nullopt;
    if (o == SeekOutcome::kUserBreakpoint)
      return RunResult{StopReason::kBreakpoint, 0, "", ordinal_};
    if (o == SeekOutcome::kInterrupted) {
      kicker_.acknowledge();
      if (stop_asked()) return RunResult{StopReason::kInterrupted, 130, "interrupted", ordinal_};
      if (Kicker::monotonic_ns() < deadline) continue;
      if (lm.cpl == 3 && seeker_.stats().hits == hits_before) {
        diverge(where +
                " is in ring-3 code, and this host's KVM reports no debug exits from ring 3 "
                "(nested PVM): landmarks there can be recorded but not replayed here. Replay "
                "this trace on a host with hardware KVM, or keep the busy loop in ring 0.");
        return std::nullopt;
      }
      std::string by =
          limit.before.empty() ? "" : ", by which the recording was past " + limit.before;
      diverge(where + " not reached in " + seconds(limit.seconds) + by + " (" +
              std::to_string(seeker_.stats().hits) + " breakpoint hits so far, " +
              std::to_string(seeker_.stats().register_matches) +
              " with matching registers): the guest's state differs from the recording's");
      return std::nullopt;
    }
    std::string why = lm.cpl == 3 ? " The landmark is in ring 3: on hosts whose KVM does not "
                                    "report debug exits from ring 3 (nested PVM), landmarks "
                                    "there can be recorded but not replayed."
                                  : "";
    diverge(where + " was not reached: the guest made exit " + std::to_string(ordinal_ + 1) +
            " first (" + RegisterSnapshot::from(vcpu_.get_regs()).diff(RegisterSnapshot::from(lm)) +
            ")." + why);
    return std::nullopt;
  }
}

// Timer advances from kicks since the last exit: the guest could not see
// them before the landmark or exit that follows them. Each is applied on
// its own, as the recording's kicks were.
void Replayer::advance_pending_timers() {
  for (const PendingTime& t : pending_time_) {
    if (!t.spin) {
      reached_time(t.ns);
      board_.advance_timers(t.ns);
      continue;
    }
    uint64_t now = vclock_.now_ns();
    vclock_.skip_to(now + std::min(t.ns, UINT64_MAX - now));  // a trace's ns never wraps time
    board_.advance_due_timers(vclock_.now_ns());
  }
  pending_time_.clear();
}

std::optional<RunResult> Replayer::run_to_exit() {
  if (exit_pending_) {
    exit_pending_ = false;
    return std::nullopt;
  }
  if (!opts_.host_time) spent_ns_ = 0;  // each run bounded on its own
  RunLimit limit = run_limit(time_ahead());
  std::string after = "after exit " + std::to_string(ordinal_);
  if (limit.seconds <= 0) {
    diverge(after + " " + limit_spent(limit) + ": the guest runs somewhere the recording did not");
    return divergence_result();
  }
  uint64_t exits_at_arm = stats_.exits;
  HostTimer timer([this](uint64_t ns) { ran(ns); });
  uint64_t deadline = timer.deadline(limit.seconds);
  kicker_.arm(deadline);
  arm_user_debug();
  for (;;) {
    // An interrupt() whose kick a completed exit swallowed (its KVM_RUN
    // with immediate_exit set) is taken before running on.
    if (interrupted_ && stop_asked())
      return RunResult{StopReason::kInterrupted, 130, "interrupted", ordinal_};
    if (vcpu_.run()) {
      uint32_t reason = vcpu_.run_area()->exit_reason;
      if (natural_exit(reason)) return std::nullopt;
      if (reason == KVM_EXIT_DEBUG && user_armed_ &&
          UserDebugRegs::hit(vcpu_.run_area()->debug.arch.dr6))
        return RunResult{StopReason::kBreakpoint, 0, "", ordinal_};
      continue;
    }
    kicker_.acknowledge();
    if (stop_asked()) return RunResult{StopReason::kInterrupted, 130, "interrupted", ordinal_};
    // A kick before the deadline is a stray one (an interrupt() whose flag
    // was taken before its signal came): on into the guest.
    if (Kicker::monotonic_ns() < deadline) continue;
    if (stats_.exits == exits_at_arm) {
      std::string why =
          !limit.before.empty()
              ? " (the recording's guest made its next exit before " + limit.before + ")"
          : opts_.progress_logged && gap_from_ ? " (" + limit_spent(limit) + ")"
                                               : "";
      diverge("no exit for " + seconds(limit.seconds) + " " + after + why +
              ": the guest runs somewhere the recording did not");
      return divergence_result();
    }
  }
}

void Replayer::set_user_debug(const UserDebugRegs* user) {
  user_ = user;
  seeker_.set_user(user);
  user_armed_ = true;  // unknown: the next run sets the guest debug registers
}

// Only when there is something to arm or disarm: plain replay makes no
// extra ioctl per exit.
void Replayer::arm_user_debug() {
  bool want = user_ && user_->armed();
  if (!want && !user_armed_) return;
  vcpu_.set_guest_debug(guest_debug(want ? *user_ : UserDebugRegs{}, std::nullopt, false));
  user_armed_ = want;
}

bool Replayer::complete_exit() {
  if (exit_pending_ || vcpu_.finish_pending_exit()) return !exit_pending_;
  exit_pending_ = true;
  return false;
}

Replayer::Position Replayer::save_position() {
  Position p;
  p.ordinal = ordinal_;
  p.last_clock = last_clock_;
  p.exit_time = exit_time_;
  p.latest_time = latest_time_;
  p.virtual_ns = vclock_.now_ns();
  p.pending_time = pending_time_;
  p.injected = injected_;
  p.completion_going_in = completion_going_in_;
  p.recent = recent_;
  p.stats = stats_;
  p.source = events_.mark();
  p.dirty = dirty_.save();
  return p;
}

void Replayer::restore_position(const Position& p) {
  events_.rewind(p.source);
  ordinal_ = p.ordinal;
  last_clock_ = p.last_clock;
  exit_time_ = p.exit_time;
  latest_time_ = p.latest_time;
  spent_ns_ = gap_ns_ = 0;
  gap_from_.reset();
  vclock_.restore(p.virtual_ns);
  pending_time_ = p.pending_time;
  injected_ = p.injected;
  completion_going_in_ = p.completion_going_in;
  // After the vCPU state (ReplaySession restores the machine first).
  if (completion_going_in_) set_completion_events(vcpu_, *completion_going_in_);
  recent_ = p.recent;
  stats_ = p.stats;
  dirty_.restore(p.dirty);
  phase_ = Phase::kInterval;
  divergence_.reset();
  truncated_ = waiting_ = exit_pending_ = false;
  interrupted_ = false;
  user_armed_ = true;  // whatever the vCPU holds, arm_user_debug() sets it again
}

std::optional<RunResult> Replayer::at_exit() {
  ++ordinal_;
  ++stats_.exits;
  if (!gap_from_) gap_from_ = ordinal_;
  injected_ = false;
  completion_going_in_.reset();
  advance_pending_timers();
  if (opts_.virtual_time) vclock_.on_exit();  // before the devices read it, as recorded
  if (auto stop = check_digests()) return stop;
  switch (vcpu_.run_area()->exit_reason) {
    case KVM_EXIT_IO:
      if (auto stop = dispatch_.io()) return stop;
      break;
    case KVM_EXIT_MMIO:
      if (auto stop = dispatch_.mmio()) return stop;
      break;
    case KVM_EXIT_HLT:
      break;  // idle time is skipped: the recorded timer advances follow
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
      dispatch_.msr();
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      if (auto crash = dispatch_.internal_error(ordinal_)) return replay_crash(*crash);
      // An exception a completion injected is this exit's injection: an
      // interrupt waits for the window after it (as in VcpuLoop).
      completion_going_in_ = dispatch_.take_injected_exception();
      injected_ = completion_going_in_.has_value();
      stats_.completions = dispatch_.completions();
      break;
    default:
      return replay_crash(dispatch_.fatal(ordinal_));
  }
  if (divergence_) return divergence_result();
  return std::nullopt;
}

// A crash is replayed too: the recording must end with it.
std::optional<RunResult> Replayer::replay_crash(const RunResult& crash) {
  const trace::ReadEvent* r = peek();
  if (r && r->event.kind == EventKind::kGuestExit && r->event.detail() == uint64_t(crash.reason)) {
    consume();
    return crash;
  }
  diverge("guest stopped (" + std::string(to_string(crash.reason)) +
          ") where the recording went on:\n" + crash.message);
  return divergence_result();
}

std::optional<RunResult> Replayer::check_digests() {
  if (const trace::ReadEvent* r = next_at(EventKind::kRegDigest)) {
    uint64_t want = r->event.digest();
    consume();
    ++stats_.digests_checked;
    if (opts_.verify && RegisterSnapshot::from(vcpu_.get_regs()).digest() != want) {
      diverge("register digest differs at exit " + std::to_string(ordinal_));
      return divergence_result();
    }
  }
  if (const trace::ReadEvent* r = next_at(EventKind::kMemDigest)) {
    uint64_t want = r->event.digest();
    consume();
    ++stats_.digests_checked;
    uint64_t got = dirty_.digest();
    dirty_.reset();
    if (opts_.verify && got != want) {
      diverge("memory digest differs at exit " + std::to_string(ordinal_) +
              " (pages written since the previous checkpoint differ)");
      return divergence_result();
    }
  }
  return std::nullopt;
}

// `want` is the recorded vector, compared whole: a corrupt one never matches.
std::optional<RunResult> Replayer::inject(uint64_t want) {
  std::optional<uint8_t> vector;
  if (board_.interrupts && board_.interrupts->has_interrupt())
    vector = board_.interrupts->acknowledge();
  if (!vector || *vector != want) {
    auto who = [&](uint64_t v) {
      std::string d = board_.describe_vector ? board_.describe_vector(uint8_t(v)) : "";
      return hex(v) + (d.empty() ? "" : " (" + d + ")");
    };
    diverge("the recording injected vector " + who(want) + " after exit " +
            std::to_string(ordinal_) + "; the device models offer " +
            (vector ? who(*vector) : std::string("none")));
    return divergence_result();
  }
  vcpu_.interrupt(*vector);
  return std::nullopt;
}

std::optional<RunResult> Replayer::inject_nmi() {
  if (!board_.interrupts || !board_.interrupts->take_nmi()) {
    diverge("the recording injected an NMI after exit " + std::to_string(ordinal_) +
            "; the device models have none pending");
    return divergence_result();
  }
  ++stats_.nmis;
  vcpu_.nmi();
  return std::nullopt;
}

std::optional<RunResult> Replayer::finish(const StoredEvent& exit_event) {
  if (!recordable(exit_event.event.detail()))
    throw trace::TraceError("the guest-exit record at exit " + std::to_string(ordinal_) +
                            " holds stop reason " + std::to_string(exit_event.event.detail()) +
                            ", which no recording ends with");
  RunResult r;
  r.reason = static_cast<StopReason>(exit_event.event.detail());
  r.status = static_cast<int>(exit_event.event.code());
  r.exits = ordinal_;
  if (r.reason == StopReason::kGuestExit || r.reason == StopReason::kPowerOff) {
    if (!board_.stop || board_.stop->status != r.status) {
      // A disagreement with the last record, never a cut-off trace.
      diverge("the recording ends with " + trace::format_event(exit_event.view()) +
                  (board_.stop ? ", replay with status " + std::to_string(board_.stop->status)
                               : ", but replay did not stop there"),
              /*may_be_cut=*/false);
      return divergence_result();
    }
  } else {
    r.message = "the recording ended here: " + exit_event.text;
  }
  return r;
}

void Replayer::on_port_read(uint16_t port, std::span<uint8_t> data) {
  substitute_read(Event::port_read(ordinal_, port, uint8_t(data.size()), load_le(data)), data);
}

void Replayer::on_mmio_read(uint64_t addr, std::span<uint8_t> data) {
  substitute_read(Event::mmio_read(ordinal_, addr, uint8_t(data.size()), load_le(data)), data);
}

void Replayer::on_completion(const Completion& c, uint64_t rip) {
  Event here = Event::completion(ordinal_, uint8_t(c.insn), c.vector, rip);
  const trace::ReadEvent* r = next_at(EventKind::kCompletion);
  if (!r || r->event.a != here.a || r->event.b != here.b) {
    diverge("replay completed " + std::string(to_string(c.insn)) + " for KVM (" +
            trace::format_event({here}) + "); the recording has " + next_described());
    return;
  }
  consume();
}

// An MSR read's outcome comes from the model (a #GP or not); its value, as
// for port and MMIO reads, from the recording.
void Replayer::on_msr_read(uint32_t msr, std::optional<uint64_t>& value) {
  if (opts_.reads_modelled) {
    if (value) substitute_read(Event::msr_read(ordinal_, msr, *value), {});
    return;
  }
  const trace::ReadEvent* r = next_at(EventKind::kMsrRead);
  bool recorded = r && r->event.msr() == msr;
  if (!value) {
    if (recorded) {
      diverge("RDMSR " + hex(msr) + " raises #GP in replay; the recording has " + next_described());
    }
    return;
  }
  if (!recorded) {
    diverge("the guest makes " + trace::format_event({Event::msr_read(ordinal_, msr, *value)}) +
            " (the value from the LAPIC model); the recording has " + next_described());
    return;
  }
  uint64_t want = r->event.value();
  if (*value != want) note_model_mismatch(msr, want, *value);
  if (!opts_.follow_models) value = want;
  consume();
}

// `model` is the read as the device model answered it. Where the trace
// stores read values, the guest gets the recorded value; a device model
// that computed something else is noted (a newer rrvm replaying an older
// trace), not fatal. Where it leaves them to the models, the model's value
// stands (the digests verify it).
void Replayer::substitute_read(const Event& model, std::span<uint8_t> data) {
  if (opts_.reads_modelled) {
    ++stats_.modelled;
    remember(model);
    return;
  }
  const trace::ReadEvent* r = next_at(model.kind);
  if (!r || r->event.a != model.a || r->event.size != model.size) {
    diverge("the guest makes " + trace::format_event({model}) +
            " (the value from the device model); the recording has " + next_described());
    return;
  }
  if (r->event.modelled()) {  // a read stored "as modelled": the model's value stands
    ++stats_.modelled;
    consume();
    return;
  }
  uint64_t recorded = r->event.value();
  if (model.value() != recorded) {
    note_model_mismatch(model.a, recorded, model.value());
    if (!opts_.follow_models) store_le(data, recorded);
  }
  consume();
}

void Replayer::note_model_mismatch(uint64_t where, uint64_t recorded, uint64_t model) {
  if (stats_.model_mismatches++ == 0) {
    stats_.first_model_mismatch = "exit " + std::to_string(ordinal_) + ": " + hex(where) +
                                  " recorded " + hex(recorded) + ", device model " + hex(model);
  }
}

uint64_t Replayer::TraceClock::now_ns() {
  if (r_.opts_.virtual_time) return r_.vclock_.now_ns();
  const trace::ReadEvent* r = r_.next_at(EventKind::kClockRead);
  if (!r || !r->event.is_clock(ClockSource::kDevice)) {
    // A changed machine reading more often than recorded: time stands still.
    if (!r_.opts_.follow_models) {
      r_.diverge("a device reads the clock at exit " + std::to_string(r_.ordinal_) +
                 "; the recording has " + r_.next_described());
    }
    return r_.last_clock_;
  }
  r_.clock_value(r->event.value(), r->event.ordinal, /*reached=*/true);
  r_.last_clock_ = r->event.value();
  r_.consume();
  return r_.last_clock_;
}

// Instructions near RIP whose results KVM never shows us explain most
// divergences that no recorded input does.
std::string Replayer::untrappable_hint(uint64_t rip) {
  constexpr uint64_t kWindow = 512;
  uint64_t start = rip > kWindow ? rip - kWindow : 0;
  std::vector<uint8_t> code(2 * kWindow);
  code.resize(read_guest_code(vcpu_, mem_, start, code).value_or(0));
  std::string out;
  for (const auto& hit : find_untrappable(code, start)) {
    out += "\n    " + hex(hit.address) + ": " + hit.text;
  }
  if (out.empty()) return "";
  return "\n  hint: the guest executes instructions KVM cannot trap near rip; their results are "
         "not in the trace and differ between runs:" +
         out;
}

const trace::ReadEvent* Replayer::peek() {
  const trace::ReadEvent* r = events_.peek();
  while (r && r->event.kind == EventKind::kNote) {
    events_.pop();
    r = events_.peek();
  }
  return r;
}

const trace::ReadEvent* Replayer::next_at(EventKind kind) {
  const trace::ReadEvent* r = peek();
  // A changed machine's devices may read the clock less often than the
  // recorded ones did: skip the device clock values nobody asked for.
  while (opts_.follow_models && kind != EventKind::kClockRead && r &&
         r->event.ordinal <= ordinal_ && r->event.is_clock(ClockSource::kDevice)) {
    clock_value(r->event.value(), r->event.ordinal, /*reached=*/true);
    last_clock_ = r->event.value();
    consume();
    r = peek();
  }
  return r && r->event.ordinal == ordinal_ && r->event.kind == kind ? r : nullptr;
}

// Callers have peeked: there is an event.
const StoredEvent& Replayer::consume() {
  keep(StoredEvent(*peek()));
  events_.pop();
  ++stats_.events;
  gap_from_.reset();
  gap_ns_ = 0;
  return recent_.back();
}

void Replayer::remember(const Event& e) {
  keep(StoredEvent(e));
}

void Replayer::keep(StoredEvent e) {
  recent_.push_back(std::move(e));
  if (recent_.size() > kRecentEvents) recent_.pop_front();
}

std::string Replayer::next_described() {
  const trace::ReadEvent* r = peek();
  return r ? trace::format_event(*r) : std::string("nothing more");
}

void Replayer::diverge(const std::string& what, bool may_be_cut) {
  if (divergence_) return;
  divergence_ = what;
  // Nothing left at all: not a disagreement but the end of a cut-off trace
  // (SIGKILL, power loss) that stopped inside this exit's events.
  truncated_ = may_be_cut && !opts_.complete_trace && peek() == nullptr;
}

RunResult Replayer::divergence_result() {
  if (truncated_) {
    return RunResult{StopReason::kEndOfTrace, 0,
                     "the trace ends inside exit " + std::to_string(ordinal_) +
                         " without a guest exit record (truncated recording); replayed that far",
                     ordinal_};
  }
  std::string msg = "replay diverged from the recording at exit " + std::to_string(ordinal_) +
                    ": " + *divergence_;
  kvm_regs r = vcpu_.get_regs();
  msg += "\n  rip " + hex(r.rip) + "\n  last events replayed" +
         (opts_.reads_modelled ? " (reads and interrupts at exits as the device models gave them)"
                               : "") +
         ":";
  for (const auto& e : recent_) msg += "\n    " + trace::format_event(e.view());
  if (!opts_.models_note.empty()) msg += "\n  note: " + opts_.models_note;
  msg += untrappable_hint(r.rip);
  return RunResult{StopReason::kDiverged, 1, msg, ordinal_};
}

}  // namespace rrvm
