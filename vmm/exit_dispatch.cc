#include "vmm/exit_dispatch.h"

#include "devices/hex.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "vmm/cpu_dump.h"
#include "vmm/x86_boot.h"

namespace rrvm {

bool nmi_window_open(const kvm_vcpu_events& e) {
  return !e.nmi.masked && !e.nmi.pending && !e.nmi.injected && !e.interrupt.shadow &&
         !e.interrupt.injected && !e.exception.injected && !e.exception.pending;
}

std::optional<RunResult> ExitDispatcher::io() {
  kvm_run* run = vcpu_.run_area();
  auto& io = run->io;
  uint8_t* data = reinterpret_cast<uint8_t*>(run) + io.data_offset;
  bool write = io.direction == KVM_EXIT_IO_OUT;
  // String I/O (rep ins/outs) arrives as `count` back-to-back accesses.
  for (uint32_t i = 0; i < io.count; ++i, data += io.size) {
    std::span<uint8_t> bytes(data, io.size);
    bool hit = write ? board_.pio.write(io.port, bytes) : board_.pio.read(io.port, bytes);
    if (!hit) {
      if (!write) std::fill(bytes.begin(), bytes.end(), 0xff);
      if (auto stop = unmapped(false, io.port, io.size, write)) return stop;
    }
    if (!write) hooks_->on_port_read(io.port, bytes);
  }
  if (board_.resume_vector) resume_in_real_mode();
  return std::nullopt;
}

// The guest entered ACPI S3 (PM1_CNT is a port): its CPU loses its state
// and starts again, on waking, at the OS's waking vector. It is put there
// now, the OUT completed first (KVM finishes an exit at the next KVM_RUN),
// and stays there while the machine sleeps (the run loop does not enter
// it). kvm_run's IF copy is cleared with RFLAGS.IF, so that no interrupt
// is injected before the guest enables them.
void ExitDispatcher::resume_in_real_mode() {
  uint32_t vector = *std::exchange(board_.resume_vector, std::nullopt);
  vcpu_.finish_pending_exit();
  enter_real_mode(vcpu_, vector);
  vcpu_.run_area()->if_flag = 0;
}

std::optional<RunResult> ExitDispatcher::mmio() {
  kvm_run* run = vcpu_.run_area();
  auto& m = run->mmio;
  board_.sync_cr8(run);  // a TPR read sees a CR8 the guest wrote; a TPR write reaches CR8

  std::span<uint8_t> bytes(m.data, std::min<uint32_t>(m.len, sizeof m.data));
  bool hit =
      m.is_write ? board_.mmio.write(m.phys_addr, bytes) : board_.mmio.read(m.phys_addr, bytes);
  if (!hit) {
    if (!m.is_write) std::fill(bytes.begin(), bytes.end(), 0xff);
    if (auto stop = unmapped(true, m.phys_addr, m.len, m.is_write)) return stop;
  }
  if (!m.is_write) hooks_->on_mmio_read(m.phys_addr, bytes);
  board_.sync_cr8(run);
  return std::nullopt;
}

void ExitDispatcher::msr() {
  kvm_run* run = vcpu_.run_area();
  auto& m = run->msr;
  bool write = run->exit_reason == KVM_EXIT_X86_WRMSR;
  if (!board_.lapic || !Lapic::owns_msr(m.index)) {
    // KVM refused the access (reason INVAL: a value or MSR its checks
    // reject) or does not know the MSR (UNKNOWN): #GP, as KVM would give
    // with kvm.ignore_msrs=0, on every host.
    m.error = 1;
    if (m.reason == KVM_MSR_EXIT_REASON_UNKNOWN &&
        msr_reports_.note(false, m.index) != UnmappedReports::Verdict::kSilent) {
      std::cerr << "rrvm: warning: guest " << (write ? "WRMSR to " : "RDMSR of ") << "MSR "
                << hex(m.index) << ", which neither KVM nor rrvm models: #GP (reported once)\n";
      if (msr_reports_.exhausted())
        std::cerr << "rrvm: warning: further unknown MSRs will not be reported\n";
    }
    return;
  }
  board_.sync_cr8(run);  // the x2APIC TPR (0x808) is CR8 too
  if (write) {
    m.error = board_.lapic->write_msr(m.index, m.data) ? 0 : 1;
    // KVM keeps its own copy of IA32_APIC_BASE, which CPUID.01H:EDX.APIC
    // follows (the APIC flag is clear while EN is): tell it (a host write).
    if (!m.error && m.index == Lapic::kMsrApicBase)
      vcpu_.set_msr(Lapic::kMsrApicBase, board_.lapic->apic_base());
  } else {
    std::optional<uint64_t> value = board_.lapic->read_msr(m.index);
    hooks_->on_msr_read(m.index, value);
    m.error = value ? 0 : 1;
    m.data = value.value_or(0);
  }
  board_.sync_cr8(run);
}

std::optional<RunResult> ExitDispatcher::unmapped(bool mmio, uint64_t addr, unsigned size,
                                                  bool write) {
  std::string what = std::string(write ? "write to" : "read from") + " unmapped " +
                     (mmio ? "memory address " : "port ") + hex(addr) + " (" +
                     std::to_string(size) + " bytes)";
  if (strict_io_) return crash(StopReason::kUnmappedAccess, what + " with --strict-io", 0);
  switch (reports_.note(mmio, addr)) {
    case UnmappedReports::Verdict::kSilent:
      break;
    case UnmappedReports::Verdict::kLast:
    case UnmappedReports::Verdict::kReport:
      std::cerr << "rrvm: warning: " << what << (write ? " ignored" : " reads all-ones")
                << (mmio ? " (reported once per page)\n" : " (reported once per port)\n");
      if (reports_.exhausted()) {
        std::cerr << "rrvm: warning: further unmapped accesses will not be reported\n";
      }
      break;
  }
  return std::nullopt;
}

UnmappedReports::Verdict UnmappedReports::note(bool mmio, uint64_t addr) {
  if (exhausted()) return Verdict::kSilent;
  uint64_t key = mmio ? addr & ~uint64_t{0xfff} : addr;
  if (!seen_.insert({mmio, key}).second) return Verdict::kSilent;
  return exhausted() ? Verdict::kLast : Verdict::kReport;
}

RunResult ExitDispatcher::fatal(uint64_t exits) {
  kvm_run* run = vcpu_.run_area();
  switch (run->exit_reason) {
    case KVM_EXIT_SHUTDOWN:
      return crash(StopReason::kTripleFault, "guest triple-faulted (KVM_EXIT_SHUTDOWN)", exits);
    case KVM_EXIT_FAIL_ENTRY:
      return crash(
          StopReason::kEntryFailure,
          "VM entry failed, hardware reason " + hex(run->fail_entry.hardware_entry_failure_reason),
          exits);
    case KVM_EXIT_INTERNAL_ERROR:
      return crash(StopReason::kEmulationFailure,
                   run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                       ? "KVM could not emulate a guest instruction (emulation failure)"
                       : "KVM internal error, suberror " + std::to_string(run->internal.suberror),
                   exits);
    default:
      return crash(StopReason::kEmulationFailure,
                   "unexpected KVM exit reason " + std::to_string(run->exit_reason), exits);
  }
}

std::optional<RunResult> ExitDispatcher::internal_error(uint64_t exits) {
  kvm_run* run = vcpu_.run_area();
  if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
      run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION)
    return fatal(exits);
  uint64_t rip = 0;
  std::string why_not;
  std::optional<Completion> c = completer_.complete(&rip, &why_not);
  if (!c) {
    return crash(StopReason::kEmulationFailure,
                 "KVM could not emulate a guest instruction (emulation failure; " + why_not + ")",
                 exits);
  }
  completions_[size_t(c->insn)] += 1 + c->run;  // instructions, a run's included
  if (c->vector != kNoVector) injected_ = c;
  hooks_->on_completion(*c, rip);
  return std::nullopt;
}

RunResult ExitDispatcher::crash(StopReason reason, const std::string& what, uint64_t exits) {
  kvm_regs r = vcpu_.get_regs();
  kvm_sregs s = vcpu_.get_sregs();
  std::string msg = what + " after " + std::to_string(exits) + " exits\n" + format_registers(r, s) +
                    "  " + format_code_at_rip(vcpu_, mem_, r.rip);
  return RunResult{reason, 0, msg, exits, completions_};
}

}  // namespace rrvm
