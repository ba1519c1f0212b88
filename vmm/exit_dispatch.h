// Turns one I/O or MMIO exit into bus accesses, and one fatal exit into a
// report. Shared by the live run loop and the replayer, so both dispatch
// exactly alike.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "devices/guest_memory.h"
#include "vmm/board.h"
#include "vmm/exec_hooks.h"
#include "vmm/instruction_completion.h"
#include "vmm/run_result.h"
#include "vmm/vcpu.h"

namespace rrvm {

// Which accesses to unmapped ports and memory deserve a warning: the first
// per port or per 4 KiB page, and no more than kMax in all. A guest clearing
// a page nobody decodes (kvm-unit-tests' apic test memsets the disabled APIC
// page) would otherwise print thousands of lines, and a set of every address
// touched would grow without bound.
class UnmappedReports {
 public:
  static constexpr size_t kMax = 32;
  enum class Verdict { kSilent, kReport, kLast };  // kLast: report, then go quiet
  Verdict note(bool mmio, uint64_t addr);
  bool exhausted() const { return seen_.size() >= kMax; }

 private:
  std::set<std::pair<bool, uint64_t>> seen_;  // (mmio?, port or page)
};

// Whether KVM_NMI now is delivered at the very next entry, at the current
// RIP: NMIs not blocked (no NMI handler running), none pending or injected
// already, no MOV SS/STI shadow, no exception or interrupt going in first.
// Otherwise KVM would hold the NMI back and deliver it later at a point rrvm
// never sees (api.rst, KVM_NMI): the NMI stays latched in the LAPIC instead.
bool nmi_window_open(const kvm_vcpu_events& e);

class ExitDispatcher {
 public:
  ExitDispatcher(Vcpu& vcpu, GuestMemory& mem, Board& board, bool strict_io, ExecHooks& hooks)
      : vcpu_(vcpu),
        mem_(mem),
        board_(board),
        strict_io_(strict_io),
        hooks_(&hooks),
        completer_(vcpu, mem) {}

  void set_hooks(ExecHooks& hooks) { hooks_ = &hooks; }

  // KVM_EXIT_IO / KVM_EXIT_MMIO: reads fill the run area (all-ones where
  // nothing is mapped) and are shown to the hooks, which may replace the
  // value (replay). A stop comes back only for --strict-io.
  std::optional<RunResult> io();
  std::optional<RunResult> mmio();
  // KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR: IA32_APIC_BASE and the x2APIC
  // MSRs go to the LAPIC (its refusals are #GP); any other MSR that reaches
  // rrvm (one KVM does not handle) gets #GP, with a warning once per MSR.
  void msr();
  // A non-I/O exit that ends the run (shutdown, entry/internal failure,
  // unknown reason) as a report with registers and code bytes.
  RunResult fatal(uint64_t exits);
  // KVM_EXIT_INTERNAL_ERROR: an emulation failure at an instruction rrvm
  // completes is done here (and shown to the hooks): nullopt. Anything else
  // is fatal(), naming the instruction bytes.
  std::optional<RunResult> internal_error(uint64_t exits);
  // Once after a completion injected an exception, that completion: no
  // interrupt may be injected at this entry (KVM delivers one event per
  // entry; the interrupt waits for the window after the exception).
  std::optional<Completion> take_injected_exception() { return std::exchange(injected_, {}); }
  const CompletionCounts& completions() const { return completions_; }
  void set_completions(const CompletionCounts& c) { completions_ = c; }
  RunResult crash(StopReason reason, const std::string& what, uint64_t exits);

 private:
  std::optional<RunResult> unmapped(bool mmio, uint64_t addr, unsigned size, bool write);
  void resume_in_real_mode();

  Vcpu& vcpu_;
  GuestMemory& mem_;
  Board& board_;
  bool strict_io_;
  ExecHooks* hooks_;
  UnmappedReports reports_;
  UnmappedReports msr_reports_;  // MSRs by number, as ports
  InstructionCompleter completer_;
  CompletionCounts completions_{};
  std::optional<Completion> injected_;
};

}  // namespace rrvm
