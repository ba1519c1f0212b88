#include "vmm/vcpu_loop.h"

#include "devices/hex.h"

#include <poll.h>
#include <unistd.h>

#include <cstdio>

namespace rrvm {

VcpuLoop::VcpuLoop(Vcpu& vcpu, GuestMemory& mem, Board& board, LoopClock& clock, LoopOptions opts,
                   ExecHooks* hooks)
    : vcpu_(vcpu),
      run_(vcpu.run_area()),
      mem_(mem),
      board_(board),
      clock_(clock),
      opts_(opts),
      hooks_(hooks ? hooks : &default_hooks_),
      dispatch_(vcpu, mem, board, opts.strict_io, *hooks_),
      kicker_(vcpu.run_area()),
      exits_(opts.first_exit) {
  dispatch_.set_completions(opts_.first_completions);
  exception_going_in_ = opts_.exception_going_in;
  if (board_.console_input) console_fd_ = opts_.console_fd;
  if (board_.net_input) net_ = opts_.net;
  if (uint64_t every = hooks_->housekeeping_interval_ns()) {
    housekeeping_host_ = Kicker::monotonic_ns() + every;
  }
  if (opts_.timeout_sec > 0) {
    timeout_host_ = Kicker::monotonic_ns() + static_cast<uint64_t>(opts_.timeout_sec * 1e9);
  }
}

// Natural exits (I/O, MMIO, HLT) happen at the same guest state in every
// execution and are numbered; kicks and interrupt-window exits happen
// wherever the host's timing put them and are not (DESIGN.md, exit ordinal).
RunResult VcpuLoop::run() {
  bool async = false, quiet = false;
  for (;;) {
    if (auto stop = check_stop()) return finish(*stop);
    Entry entry = enter(async, quiet);
    // A pause is not a stop: the hooks are not told, the run goes on later.
    if (entry == Entry::kPaused) {
      return RunResult{StopReason::kPaused, 0, "", exits_, dispatch_.completions()};
    }
    if (entry == Entry::kKicked) {
      kicker_.acknowledge();
      ++kicks_;
      housekeeping();
      // A kick that did not move guest time (a virtual-time spin check, a
      // host stall, a stray signal) re-enters as if it never happened: no
      // timers, no injection at a place the host's timing chose.
      uint64_t before = clock_.now_ns();
      quiet = !clock_.on_kick();
      if (!quiet && clock_.can_skip()) hooks_->on_spin(clock_.now_ns() - before);
      if (!quiet) advance_timers(async = true);
      continue;
    }
    quiet = false;
    if (run_->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN) {
      ++windows_;
      advance_timers(async = true);
      continue;
    }
    clock_.on_exit();
    hooks_->on_exit(++exits_);
    if (auto stop = handle_exit()) return finish(*stop);
    if (auto stop = sleep()) return finish(*stop);
    exception_going_in_ = dispatch_.take_injected_exception();
    advance_timers(async = false);
    // Console input enters at natural exits only, so replay can place it
    // by exit ordinal; a poll every 1024 exits costs nothing measurable.
    if (console_fd_ >= 0 && exits_ % 1024 == 0) poll_inputs(0);
    if (net_) deliver_packets();
  }
}

// Into the guest until its next exit; or, once the pause is due, only far
// enough to complete the last exit's instruction. Completing it can run
// into a new exit (string I/O's next chunk): that one is handled as usual
// and the pause comes after it.
VcpuLoop::Entry VcpuLoop::enter(bool async, bool quiet) {
  if (opts_.pause_after_exit && exits_ >= opts_.pause_after_exit) {
    return vcpu_.finish_pending_exit() ? Entry::kPaused : Entry::kExit;
  }
  if (!quiet) prepare_entry(async);
  kicker_.arm(next_wakeup_host());
  exception_going_in_.reset();
  bool exited = vcpu_.run() && run_->exit_reason != KVM_EXIT_INTR;
  return exited ? Entry::kExit : Entry::kKicked;
}

namespace {
std::string timeout_message(double seconds, uint64_t rip) {
  char b[96];
  std::snprintf(b, sizeof b, "guest still running after --timeout %g s (rip 0x%llx)", seconds,
                static_cast<unsigned long long>(rip));
  return b;
}
}  // namespace

RunResult VcpuLoop::finish(RunResult r) {
  r.exits = exits_;
  r.completions = dispatch_.completions();
  hooks_->on_stop(r);
  return r;
}

std::optional<RunResult> VcpuLoop::check_stop() {
  if (board_.stop) {
    RunResult r = *board_.stop;
    r.exits = exits_;
    return r;
  }
  if (int sig = Kicker::stop_signal()) {
    return RunResult{StopReason::kInterrupted, 128 + sig,
                     "stopped by signal " + std::to_string(sig), exits_};
  }
  if (timeout_host_ && Kicker::monotonic_ns() >= timeout_host_) {
    kvm_regs r = vcpu_.get_regs();
    return RunResult{StopReason::kTimeout, 0, timeout_message(opts_.timeout_sec, r.rip), exits_};
  }
  return std::nullopt;
}

// Inject now if the guest can take an interrupt, else ask KVM for an exit
// as soon as it can (Documentation/virt/kvm/api.rst, request_interrupt_window).
void VcpuLoop::prepare_entry(bool async) {
  // One event per entry: an NMI (it outranks interrupts) or an interrupt.
  bool nmi = inject_nmi(async);
  if (!board_.interrupts || !board_.interrupts->has_interrupt()) {
    run_->request_interrupt_window = 0;
    return;
  }
  // One event per entry: an exception a completion injected or an NMI goes in
  // first (the replayer's injected_ is the same rule).
  bool can_take =
      run_->ready_for_interrupt_injection && run_->if_flag && !exception_going_in_ && !nmi;
  if (auto vector = can_take ? board_.take_interrupt(*run_) : std::nullopt) {
    hooks_->on_inject(*vector, async);
    vcpu_.interrupt(*vector);
    ++injections_;
  }
  run_->request_interrupt_window = can_take ? 0 : 1;
}

// An NMI from the LAPIC (ICR, LINT1, IOAPIC) goes in with KVM_NMI only
// when KVM will deliver it at this entry (nmi_window_open); while the guest
// blocks NMIs it stays latched, and the loop comes back soon to look again
// (kNmiRetryNs) instead of letting KVM pick the moment.
bool VcpuLoop::inject_nmi(bool async) {
  nmi_waiting_ = false;
  if (exception_going_in_ || !board_.interrupts || !board_.interrupts->nmi_pending()) return false;
  if (!nmi_window_open(vcpu_.get_events())) {
    nmi_waiting_ = true;
    return false;
  }
  if (!board_.interrupts->take_nmi()) return false;
  hooks_->on_nmi(async);
  vcpu_.nmi();
  ++nmis_;
  return true;
}

// Waits up to `timeout_ms` for console input or a network frame (0: just
// look) and hands what arrived to the board; returns early on SIGINT/SIGTERM.
void VcpuLoop::poll_inputs(int timeout_ms) {
  pollfd p[2] = {{console_fd_, POLLIN, 0}, {net_ ? net_->wake_fd() : -1, POLLIN, 0}};
  int n = ::poll(p, 2, timeout_ms);  // negative fds are ignored
  if (net_) deliver_packets();
  if (n <= 0 || !(p[0].revents & (POLLIN | POLLHUP))) return;
  uint8_t buf[64];
  ssize_t got = ::read(console_fd_, buf, sizeof buf);
  if (got <= 0) {
    console_fd_ = -1;  // end of input
    return;
  }
  std::span<const uint8_t> bytes(buf, static_cast<size_t>(got));
  hooks_->on_console_input(bytes);
  board_.console_input(bytes);
}

// Frames enter at natural exits only (or while halted), so replay can place
// each one by exit ordinal, as console input.
void VcpuLoop::deliver_packets() {
  while (auto frame = net_->receive()) {
    hooks_->on_packet(*frame);
    if (board_.net_input) board_.net_input(*frame);
  }
}

void VcpuLoop::housekeeping() {
  if (!housekeeping_host_ || Kicker::monotonic_ns() < housekeeping_host_) return;
  hooks_->on_housekeeping();
  housekeeping_host_ = Kicker::monotonic_ns() + hooks_->housekeeping_interval_ns();
}

uint64_t VcpuLoop::next_wakeup_host() {
  uint64_t wake = timeout_host_;
  if (housekeeping_host_ && (!wake || housekeeping_host_ < wake)) wake = housekeeping_host_;
  if (auto d = board_.next_deadline()) {
    uint64_t host = clock_.host_time(*d);
    if (!wake || host < wake) wake = host;
  }
  // Under --clock virtual only kicks that move guest time inject anything.
  if (nmi_waiting_ && !clock_.can_skip()) {
    uint64_t retry = Kicker::monotonic_ns() + kNmiRetryNs;
    if (!wake || retry < wake) wake = retry;
  }
  return wake;
}

// Timers move only when one is due (Board::advance_due_timers).
void VcpuLoop::advance_timers(bool async) {
  auto due = board_.next_deadline();
  uint64_t now = clock_.now_ns();
  if (!due || now < *due) return;
  hooks_->on_timer_advance(now, async);
  board_.advance_due_timers(now);
}

std::optional<RunResult> VcpuLoop::handle_exit() {
  switch (run_->exit_reason) {
    case KVM_EXIT_IO:
      return dispatch_.io();
    case KVM_EXIT_MMIO:
      return dispatch_.mmio();
    case KVM_EXIT_HLT:
      return handle_hlt();
    case KVM_EXIT_INTERNAL_ERROR:
      return dispatch_.internal_error(exits_);
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
      dispatch_.msr();
      return std::nullopt;
    default:
      return dispatch_.fatal(exits_);
  }
}

// HLT: the vCPU sleeps until an interrupt can wake it. Without an in-kernel
// irqchip KVM hands HLT to us, so we wait here for the next timer deadline.
std::optional<RunResult> VcpuLoop::handle_hlt() {
  return idle(
      [&] {
        if (board_.interrupts && board_.interrupts->has_interrupt() && run_->if_flag) return true;
        // An NMI wakes the CPU whatever IF says (SDM vol. 2A, HLT).
        return board_.interrupts && board_.interrupts->nmi_pending() &&
               nmi_window_open(vcpu_.get_events());
      },
      true);
}

// The vCPU stands at its waking vector (ExitDispatcher::resume_in_real_mode)
// and is not entered until the ACPI PM sees a wake event.
std::optional<RunResult> VcpuLoop::sleep() {
  if (!board_.sleeping()) return std::nullopt;
  return idle([&] { return !board_.sleeping(); }, false);
}

template <typename Woken>
std::optional<RunResult> VcpuLoop::idle(Woken woken, bool halt) {
  for (;;) {
    advance_timers(false);
    if (woken()) return std::nullopt;
    if (auto stop = check_stop()) return stop;
    if (halt && !run_->if_flag) {
      return dispatch_.crash(StopReason::kHaltedForever,
                             "guest executed HLT with interrupts disabled; nothing can wake it",
                             exits_);
    }
    if (auto due = board_.next_deadline(); due && clock_.can_skip()) {
      // Virtual time: skip to the next timer, but give the network a moment
      // first so a reply on its way is not overtaken by a guest timeout.
      if (net_ && net_->busy()) poll_inputs(kNetGraceMs);
      if (woken()) continue;
      if (clock_.skip_to(*due)) {
        hooks_->on_halt_skip(*due);
        continue;
      }
    }
    // Only a timer, an NMI on its way or input can wake it; --timeout and
    // housekeeping wake rrvm, not the guest, so they do not make it wait.
    bool input = console_fd_ >= 0 || net_;
    if (!board_.next_deadline() && !nmi_waiting_ && !input) {
      return dispatch_.crash(StopReason::kHaltedForever,
                             halt ? "guest halted with no timer armed and no interrupt pending"
                                  : "guest sleeps in ACPI S3 with no timer armed to wake it",
                             exits_);
    }
    uint64_t wake = next_wakeup_host();
    if (!wake) wake = Kicker::monotonic_ns() + 1'000'000'000;  // input can wake it
    uint64_t now = Kicker::monotonic_ns();
    if (wake > now) poll_inputs(static_cast<int>((wake - now + 999'999) / 1'000'000));
  }
}

}  // namespace rrvm
