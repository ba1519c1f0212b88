#include "replay/replayer.h"

#include <algorithm>
#include <cstdio>

#include "devices/hex.h"
#include "devices/io_device.h"
#include "replay/untrappable.h"
#include "vmm/cpu_dump.h"

namespace rrvm {

namespace {
constexpr size_t kRecentEvents = 8;

bool natural_exit(uint32_t reason) {
  return reason != KVM_EXIT_IRQ_WINDOW_OPEN && reason != KVM_EXIT_INTR && reason != KVM_EXIT_DEBUG;
}

// Ring-3 code runs natively on nested (PVM) hosts and never reports a debug
// exit there: a landmark in ring 3 that draws no breakpoint hit within a few
// seconds is that host limitation, not a divergence of the guest.
constexpr double kRing3ProbeSeconds = 3;

std::string seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g s", s);
  return b;
}
}  // namespace

Replayer::Replayer(EventSource& events, KvmVcpu& vcpu, GuestMemory& mem, Board& board,
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
  if (auto stop = between_exits()) return stop;
  if (opts_.until && ordinal_ >= opts_.until) {
    return RunResult{StopReason::kEndOfTrace, 0,
                     "replay stopped at exit " + std::to_string(ordinal_) + " (--until)", ordinal_};
  }
  if (auto stop = run_to_exit()) return stop;
  if (auto stop = at_exit()) return stop;
  return after_exit();
}

// Events recorded after exit `ordinal_` and before the next one: timer
// advances at kicks, landmarks with their interrupts, or the end of the run.
std::optional<RunResult> Replayer::between_exits() {
  for (;;) {
    if (divergence_) return divergence_result();
    const InputEvent* e = events_.peek();
    if (!e) {
      return RunResult{StopReason::kEndOfTrace, 0,
                       "the trace ends after exit " + std::to_string(ordinal_) +
                           " without a guest exit record (truncated recording); replayed that far",
                       ordinal_};
    }
    if (e->ordinal != ordinal_) return std::nullopt;
    if (e->kind == InputKind::kClockRead && e->addr == uint64_t(ClockSource::kTimerAsync)) {
      pending_async_.push_back(e->value);
      consume();
    } else if (e->kind == InputKind::kLandmark) {
      Landmark lm = e->landmark;
      consume();
      if (auto stop = replay_landmark(lm)) return stop;
    } else if (e->kind == InputKind::kGuestExit) {
      InputEvent exit_event = *e;
      consume();
      return finish(exit_event);
    } else {
      diverge("the recording has " + describe(*e) + " where replay is between exits");
    }
  }
}

std::optional<RunResult> Replayer::replay_landmark(const Landmark& lm) {
  double limit =
      lm.cpl == 3 ? std::min(opts_.stall_seconds, kRing3ProbeSeconds) : opts_.stall_seconds;
  uint64_t hits_before = seeker_.stats().hits;
  uint64_t deadline = Kicker::monotonic_ns() + uint64_t(limit * 1e9);
  kicker_.arm(deadline);
  for (;;) {
    SeekOutcome o = seeker_.seek(lm);
    stats_.breakpoint_hits = seeker_.stats().hits;
    stats_.single_steps = seeker_.stats().steps;
    if (o == SeekOutcome::kReached) break;
    if (o == SeekOutcome::kInterrupted) {
      kicker_.acknowledge();
      if (Kicker::stop_signal())
        return RunResult{StopReason::kInterrupted, 130, "interrupted", ordinal_};
      if (Kicker::monotonic_ns() < deadline) continue;
      if (lm.cpl == 3 && seeker_.stats().hits == hits_before) {
        diverge("landmark after exit " + std::to_string(lm.ordinal) + " at rip " +
                hex(lm.regs.rip) +
                " is in ring-3 code, and this host's KVM reports no debug exits from ring 3 "
                "(nested PVM): landmarks there can be recorded but not replayed here. Replay "
                "this trace on a host with hardware KVM, or keep the busy loop in ring 0.");
        return divergence_result();
      }
      diverge("landmark after exit " + std::to_string(lm.ordinal) + " at rip " + hex(lm.regs.rip) +
              " not reached in " + seconds(limit) + " (" + std::to_string(seeker_.stats().hits) +
              " breakpoint hits so far, " + std::to_string(seeker_.stats().register_matches) +
              " with matching registers): the guest's state differs from the recording's");
      return divergence_result();
    }
    std::string why = lm.cpl == 3 ? " The landmark is in ring 3: on hosts whose KVM does not "
                                    "report debug exits from ring 3 (nested PVM), landmarks "
                                    "there can be recorded but not replayed."
                                  : "";
    diverge("landmark after exit " + std::to_string(lm.ordinal) + " at rip " + hex(lm.regs.rip) +
            " was not reached: the guest made exit " + std::to_string(ordinal_ + 1) + " first (" +
            RegisterSnapshot::from(vcpu_.get_regs()).diff(lm.regs) + ")." + why);
    return divergence_result();
  }
  dirty_.reset();
  ++stats_.landmarks;
  for (uint64_t t : pending_async_) board_.advance_timers(t);
  pending_async_.clear();
  return inject(/*async=*/true);
}

std::optional<RunResult> Replayer::run_to_exit() {
  uint64_t exits_at_arm = stats_.exits;
  kicker_.arm(Kicker::monotonic_ns() + uint64_t(opts_.stall_seconds * 1e9));
  for (;;) {
    if (vcpu_.run()) {
      if (natural_exit(vcpu_.run_area()->exit_reason)) return std::nullopt;
      continue;
    }
    kicker_.acknowledge();
    if (Kicker::stop_signal())
      return RunResult{StopReason::kInterrupted, 130, "interrupted", ordinal_};
    if (stats_.exits == exits_at_arm) {
      diverge("no exit for " + seconds(opts_.stall_seconds) + " after exit " +
              std::to_string(ordinal_) + ": the guest runs somewhere the recording did not");
      return divergence_result();
    }
  }
}

std::optional<RunResult> Replayer::at_exit() {
  ++ordinal_;
  ++stats_.exits;
  // Timer advances from kicks since the last exit: the guest could not see
  // them before now, so this is where they take effect.
  for (uint64_t t : pending_async_) board_.advance_timers(t);
  pending_async_.clear();
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
    default: {
      // A crash is replayed too: the recording must end with it.
      RunResult crash = dispatch_.fatal(ordinal_);
      const InputEvent* e = events_.peek();
      if (e && e->kind == InputKind::kGuestExit && e->addr == uint64_t(crash.reason)) {
        consume();
        return crash;
      }
      diverge("guest stopped (" + std::string(to_string(crash.reason)) +
              ") where the recording went on:\n" + crash.message);
      return divergence_result();
    }
  }
  if (divergence_) return divergence_result();
  return std::nullopt;
}

std::optional<RunResult> Replayer::check_digests() {
  if (const InputEvent* e = next_at(InputKind::kRegDigest)) {
    uint64_t want = e->value;
    consume();
    ++stats_.digests_checked;
    if (opts_.verify && RegisterSnapshot::from(vcpu_.get_regs()).digest() != want) {
      diverge("register digest differs at exit " + std::to_string(ordinal_));
      return divergence_result();
    }
  }
  if (const InputEvent* e = next_at(InputKind::kMemDigest)) {
    uint64_t want = e->value;
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

// After the exit was handled: timers the recording advanced here, then the
// interrupt it injected before re-entering the guest, if any.
std::optional<RunResult> Replayer::after_exit() {
  // Timer advances and console input, in the order the recording saw them.
  for (;;) {
    const InputEvent* e = events_.peek();
    if (!e || e->ordinal != ordinal_) break;
    if (e->kind == InputKind::kClockRead && e->addr == uint64_t(ClockSource::kTimerExit)) {
      uint64_t t = e->value;
      consume();
      board_.advance_timers(t);
    } else if (e->kind == InputKind::kConsoleInput) {
      std::vector<uint8_t> bytes = e->bytes;
      consume();
      if (board_.console_input) board_.console_input(bytes);
    } else if (e->kind == InputKind::kPacket) {
      std::vector<uint8_t> frame = e->bytes;
      consume();
      if (board_.net_input) board_.net_input(frame);
    } else {
      break;
    }
  }
  if (board_.stop) return std::nullopt;  // the GuestExit record follows
  if (next_at(InputKind::kInterrupt)) return inject(/*async=*/false);
  kvm_run* run = vcpu_.run_area();
  if (board_.interrupts && board_.interrupts->has_interrupt() && run->if_flag &&
      run->ready_for_interrupt_injection) {
    diverge("the device models raise an interrupt at exit " + std::to_string(ordinal_) +
            " that the recording did not inject");
    return divergence_result();
  }
  return std::nullopt;
}

std::optional<RunResult> Replayer::inject(bool async) {
  const InputEvent* e = next_at(InputKind::kInterrupt);
  if (!e || e->async != async) {
    diverge(std::string("expected an interrupt ") + (async ? "at the landmark" : "at this exit") +
            (e ? ", the recording has " + describe(*e) : ", the recording has none"));
    return divergence_result();
  }
  uint64_t want = e->value;
  consume();
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

std::optional<RunResult> Replayer::finish(const InputEvent& exit_event) {
  RunResult r;
  r.reason = static_cast<StopReason>(exit_event.addr);
  r.status = static_cast<int>(exit_event.value);
  r.exits = ordinal_;
  if (r.reason == StopReason::kGuestExit || r.reason == StopReason::kPowerOff) {
    if (!board_.stop || board_.stop->status != r.status) {
      diverge("the recording ends with " + describe(exit_event) +
              (board_.stop ? ", replay with status " + std::to_string(board_.stop->status)
                           : ", but replay did not stop there"));
      return divergence_result();
    }
  } else {
    r.message = "the recording ended here: " + exit_event.text;
  }
  return r;
}

void Replayer::on_port_read(uint16_t port, std::span<uint8_t> data) {
  substitute_read(InputKind::kPortRead, port, data);
}

void Replayer::on_mmio_read(uint64_t addr, std::span<uint8_t> data) {
  substitute_read(InputKind::kMmioRead, addr, data);
}

// The guest gets the recorded value; a device model that computed something
// else is noted (a newer rrvm replaying an older trace), not fatal.
void Replayer::substitute_read(InputKind kind, uint64_t addr, std::span<uint8_t> data) {
  const InputEvent* e = next_at(kind);
  if (!e || e->addr != addr || e->size != data.size()) {
    diverge(std::string("the guest reads ") +
            (kind == InputKind::kPortRead ? "port " : "address ") + hex(addr) + " (" +
            std::to_string(data.size()) + " bytes) at exit " + std::to_string(ordinal_) +
            "; the recording has " +
            (events_.peek() ? describe(*events_.peek()) : std::string("nothing more")));
    return;
  }
  uint64_t model = load_le(data);
  if (model != e->value) {
    if (stats_.model_mismatches++ == 0) {
      stats_.first_model_mismatch = "exit " + std::to_string(ordinal_) + ": " + hex(addr) +
                                    " recorded " + hex(e->value) + ", device model " + hex(model);
    }
    if (!opts_.follow_models) store_le(data, e->value);
  }
  consume();
}

uint64_t Replayer::TraceClock::now_ns() {
  const InputEvent* e = r_.next_at(InputKind::kClockRead);
  if (r_.opts_.follow_models && (!e || e->addr != uint64_t(ClockSource::kDevice))) {
    return r_.last_clock_;  // more reads than recorded: time stands still
  }
  if (!e || e->addr != uint64_t(ClockSource::kDevice)) {
    r_.diverge("a device reads the clock at exit " + std::to_string(r_.ordinal_) +
               "; the recording has " +
               (r_.events_.peek() ? describe(*r_.events_.peek()) : std::string("nothing more")));
    return r_.last_clock_;
  }
  r_.last_clock_ = e->value;
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

const InputEvent* Replayer::next_at(InputKind kind) {
  const InputEvent* e = events_.peek();
  // A changed machine's devices may read the clock less often than the
  // recorded ones did: skip the device clock values nobody asked for.
  while (opts_.follow_models && kind != InputKind::kClockRead && e && e->ordinal <= ordinal_ &&
         e->kind == InputKind::kClockRead && e->addr == uint64_t(ClockSource::kDevice)) {
    last_clock_ = e->value;
    consume();
    e = events_.peek();
  }
  return e && e->ordinal == ordinal_ && e->kind == kind ? e : nullptr;
}

void Replayer::consume() {
  if (const InputEvent* e = events_.peek()) {
    recent_.push_back(*e);
    if (recent_.size() > kRecentEvents) recent_.pop_front();
  }
  events_.pop();
  ++stats_.events;
}

void Replayer::diverge(const std::string& what) {
  if (divergence_) return;
  divergence_ = what;
  // Nothing left at all: not a disagreement but the end of a cut-off trace
  // (SIGKILL, power loss) that stopped inside this exit's events.
  truncated_ = events_.peek() == nullptr;
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
  msg += "\n  rip " + hex(r.rip) + "\n  last recorded events replayed:";
  for (const auto& e : recent_) msg += "\n    " + describe(e);
  msg += untrappable_hint(r.rip);
  return RunResult{StopReason::kDiverged, 1, msg, ordinal_};
}

}  // namespace rrvm
