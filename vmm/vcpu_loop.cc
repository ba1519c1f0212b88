#include "vmm/vcpu_loop.h"

#include <poll.h>

#include <cstdio>
#include <iostream>

#include "vmm/cpu_dump.h"

namespace rrvm {

namespace {
std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}
}  // namespace

VcpuLoop::VcpuLoop(KvmVcpu& vcpu, GuestMemory& mem, Board& board, HostClock& clock,
                   LoopOptions opts, ExecHooks* hooks)
    : vcpu_(vcpu), run_(vcpu.run_area()), mem_(mem), board_(board), clock_(clock), opts_(opts),
      hooks_(hooks ? hooks : &default_hooks_), kicker_(vcpu.run_area()) {
  if (opts_.timeout_sec > 0) {
    timeout_host_ = Kicker::monotonic_ns() + static_cast<uint64_t>(opts_.timeout_sec * 1e9);
  }
}

// Natural exits (I/O, MMIO, HLT) happen at the same guest state in every
// execution and are numbered; kicks and interrupt-window exits happen
// wherever the host's timing put them and are not (DESIGN.md, exit ordinal).
RunResult VcpuLoop::run() {
  bool async = false;
  for (;;) {
    if (auto stop = check_stop()) return finish(*stop);
    prepare_entry(async);
    kicker_.arm(next_wakeup_host());
    if (!vcpu_.run()) {
      kicker_.acknowledge();
      ++kicks_;
      advance_timers(async = true);
      continue;
    }
    if (run_->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN || run_->exit_reason == KVM_EXIT_INTR) {
      ++windows_;
      advance_timers(async = true);
      continue;
    }
    hooks_->on_exit(++exits_);
    if (auto stop = handle_exit()) return finish(*stop);
    advance_timers(async = false);
  }
}

RunResult VcpuLoop::finish(RunResult r) {
  r.exits = exits_;
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
    return RunResult{StopReason::kTimeout, 0,
                     "guest still running after --timeout " + std::to_string(opts_.timeout_sec) +
                         " s (rip " + hex(r.rip) + ")",
                     exits_};
  }
  return std::nullopt;
}

// Inject now if the guest can take an interrupt, else ask KVM for an exit
// as soon as it can (Documentation/virt/kvm/api.rst, request_interrupt_window).
void VcpuLoop::prepare_entry(bool async) {
  if (!board_.interrupts || !board_.interrupts->has_interrupt()) {
    run_->request_interrupt_window = 0;
    return;
  }
  if (run_->ready_for_interrupt_injection && run_->if_flag) {
    if (auto vector = board_.interrupts->acknowledge()) {
      hooks_->on_inject(*vector, async);
      vcpu_.interrupt(*vector);
      ++injections_;
    }
    run_->request_interrupt_window = 0;
  } else {
    run_->request_interrupt_window = 1;
  }
}

uint64_t VcpuLoop::next_wakeup_host() const {
  uint64_t wake = timeout_host_;
  if (auto d = board_.next_deadline()) {
    uint64_t host = clock_.host_time(*d);
    if (!wake || host < wake) wake = host;
  }
  return wake;
}

// Timers move only when one is due, so a run logs one time value per timer
// event rather than one per exit.
void VcpuLoop::advance_timers(bool async) {
  auto due = board_.next_deadline();
  if (!due || clock_.now_ns() < *due) return;
  uint64_t now = clock_.now_ns();
  hooks_->on_timer_advance(now, async);
  board_.advance_timers(now);
}

std::optional<RunResult> VcpuLoop::handle_exit() {
  switch (run_->exit_reason) {
    case KVM_EXIT_IO: return handle_io();
    case KVM_EXIT_MMIO: return handle_mmio();
    case KVM_EXIT_HLT: return handle_hlt();
    case KVM_EXIT_SHUTDOWN:
      return crash(StopReason::kTripleFault, "guest triple-faulted (KVM_EXIT_SHUTDOWN)");
    case KVM_EXIT_FAIL_ENTRY:
      return crash(StopReason::kEntryFailure,
                   "VM entry failed, hardware reason " +
                       hex(run_->fail_entry.hardware_entry_failure_reason));
    case KVM_EXIT_INTERNAL_ERROR: {
      std::string what = run_->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                             ? "KVM could not emulate a guest instruction (emulation failure)"
                             : "KVM internal error, suberror " + std::to_string(run_->internal.suberror);
      return crash(StopReason::kEmulationFailure, what);
    }
    default:
      return crash(StopReason::kEmulationFailure,
                   "unexpected KVM exit reason " + std::to_string(run_->exit_reason));
  }
}

std::optional<RunResult> VcpuLoop::handle_io() {
  auto& io = run_->io;
  uint8_t* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
  // String I/O (rep ins/outs) arrives as `count` back-to-back accesses.
  for (uint32_t i = 0; i < io.count; ++i, data += io.size) {
    std::span<uint8_t> bytes(data, io.size);
    bool write = io.direction == KVM_EXIT_IO_OUT;
    bool hit = write ? board_.pio.write(io.port, bytes) : board_.pio.read(io.port, bytes);
    if (!hit) {
      if (!write) std::fill(bytes.begin(), bytes.end(), 0xff);
      if (auto stop = unmapped("port", io.port, io.size, write)) return stop;
    }
    if (!write) hooks_->on_port_read(io.port, bytes);
  }
  return std::nullopt;
}

std::optional<RunResult> VcpuLoop::handle_mmio() {
  auto& m = run_->mmio;
  std::span<uint8_t> bytes(m.data, m.len);
  bool hit = m.is_write ? board_.mmio.write(m.phys_addr, bytes) : board_.mmio.read(m.phys_addr, bytes);
  if (!hit) {
    if (!m.is_write) std::fill(bytes.begin(), bytes.end(), 0xff);
    if (auto stop = unmapped("memory address", m.phys_addr, m.len, m.is_write)) return stop;
  }
  if (!m.is_write) hooks_->on_mmio_read(m.phys_addr, bytes);
  return std::nullopt;
}

// HLT: the vCPU sleeps until an interrupt can wake it. Without an in-kernel
// irqchip KVM hands HLT to us, so we wait here for the next timer deadline.
std::optional<RunResult> VcpuLoop::handle_hlt() {
  for (;;) {
    advance_timers(false);
    if (board_.interrupts && board_.interrupts->has_interrupt() && run_->if_flag) return std::nullopt;
    if (auto stop = check_stop()) return stop;
    if (!run_->if_flag) {
      return crash(StopReason::kHaltedForever,
                   "guest executed HLT with interrupts disabled; nothing can wake it");
    }
    uint64_t wake = next_wakeup_host();
    if (!wake) {
      return crash(StopReason::kHaltedForever,
                   "guest halted with no timer armed and no interrupt pending");
    }
    uint64_t now = Kicker::monotonic_ns();
    if (wake > now) {
      struct timespec ts{static_cast<time_t>((wake - now) / 1'000'000'000u),
                         static_cast<long>((wake - now) % 1'000'000'000u)};
      ::ppoll(nullptr, 0, &ts, nullptr);  // returns early on SIGINT/SIGTERM
    }
  }
}

std::optional<RunResult> VcpuLoop::unmapped(const char* kind, uint64_t addr, unsigned size,
                                            bool write) {
  bool mmio = std::string_view(kind) != "port";
  std::string what = std::string(write ? "write to" : "read from") + " unmapped " + kind + " " +
                     hex(addr) + " (" + std::to_string(size) + " bytes)";
  if (opts_.strict_io) return crash(StopReason::kUnmappedAccess, what + " with --strict-io");
  if (reported_unmapped_.insert({mmio, addr}).second) {
    std::cerr << "rrvm: warning: " << what << (write ? " ignored" : " reads all-ones")
              << " (reported once)\n";
  }
  return std::nullopt;
}

RunResult VcpuLoop::crash(StopReason reason, const std::string& what) {
  kvm_regs r = vcpu_.get_regs();
  kvm_sregs s = vcpu_.get_sregs();
  std::string msg = what + " after " + std::to_string(exits_) + " exits\n" + format_registers(r, s) +
                    "  " + format_code_at_rip(vcpu_, mem_, r.rip);
  return RunResult{reason, 0, msg, exits_};
}

}  // namespace rrvm
