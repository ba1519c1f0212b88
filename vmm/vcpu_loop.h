// The vCPU run loop: enter the guest, dispatch each exit to the board,
// inject interrupts when the guest can take them, keep timers moving.
//
// Interrupts enter only at exits (KVM_INTERRUPT needs userspace to own the
// irqchip, which is also what makes injection points recordable — DESIGN.md,
// Determinism model): after every exit, if the board has an interrupt and the
// guest can take it, inject; otherwise ask for an interrupt-window exit.
#pragma once

#include <cstdint>
#include <string>

#include "devices/guest_memory.h"
#include "vmm/board.h"
#include "vmm/exec_hooks.h"
#include "vmm/exit_dispatch.h"
#include "vmm/host_clock.h"
#include "vmm/kicker.h"
#include "vmm/net_backend.h"
#include "vmm/run_result.h"
#include "vmm/vcpu.h"

namespace rrvm {

struct LoopOptions {
  double timeout_sec = 0;  // 0: none
  bool strict_io = false;
  int console_fd = -1;        // read console input from here (stdin); -1: none
  NetBackend* net = nullptr;  // frames for the NIC come from here; null: none
  // Natural exits already made: a run resumed after a pause or a
  // checkpoint restore continues the numbering.
  uint64_t first_exit = 0;
  // Instructions rrvm completed before, counted on from there as well.
  CompletionCounts first_completions{};
  // The run paused right after a completion whose exception is still
  // going in (VcpuLoop::exception_going_in()): no interrupt with it.
  std::optional<Completion> exception_going_in{};
  // Stop with StopReason::kPaused once this exit is handled and its
  // instruction completed, before anything is injected: the point where a
  // machine checkpoint is taken (vmm/machine_checkpoint.h). 0: never.
  uint64_t pause_after_exit = 0;
};

class VcpuLoop {
 public:
  // `hooks` may be null (a plain run). `clock` is the loop's own, unlogged
  // view of time; devices get theirs from the machine.
  VcpuLoop(Vcpu& vcpu, GuestMemory& mem, Board& board, LoopClock& clock, LoopOptions opts,
           ExecHooks* hooks = nullptr);
  RunResult run();

  uint64_t exits() const { return exits_; }
  uint64_t kicks() const { return kicks_; }
  uint64_t window_exits() const { return windows_; }
  uint64_t injections() const { return injections_; }
  uint64_t nmis() const { return nmis_; }
  const CompletionCounts& completions() const { return dispatch_.completions(); }
  // At a pause: the completion whose exception KVM has not delivered yet.
  const std::optional<Completion>& exception_going_in() const { return exception_going_in_; }

 private:
  enum class Entry { kExit, kKicked, kPaused };
  Entry enter(bool async, bool quiet);
  std::optional<RunResult> check_stop();
  void prepare_entry(bool async);
  bool inject_nmi(bool async);
  uint64_t next_wakeup_host();
  std::optional<RunResult> handle_exit();
  std::optional<RunResult> handle_hlt();
  // ACPI S3: the machine sleeps until a wake event (Board::sleeping).
  std::optional<RunResult> sleep();
  // The vCPU waits, timers going on, until `woken` says it may go on
  // (HLT: an interrupt it takes or an NMI; S3: a wake event). `halt`:
  // waiting in HLT, which interrupts disabled make final.
  template <typename Woken>
  std::optional<RunResult> idle(Woken woken, bool halt);
  void advance_timers(bool async);
  RunResult finish(RunResult r);

  Vcpu& vcpu_;
  kvm_run* run_;
  GuestMemory& mem_;
  Board& board_;
  LoopClock& clock_;
  LoopOptions opts_;
  ExecHooks default_hooks_;
  ExecHooks* hooks_;
  ExitDispatcher dispatch_;
  Kicker kicker_;
  uint64_t timeout_host_ = 0;       // CLOCK_MONOTONIC deadline; 0: none
  uint64_t housekeeping_host_ = 0;  // next on_housekeeping(); 0: none
  void housekeeping();
  void poll_inputs(int timeout_ms);
  void deliver_packets();
  // Host milliseconds a halted guest under --clock virtual waits for the
  // network before its time skips ahead.
  static constexpr int kNetGraceMs = 20;
  NetBackend* net_ = nullptr;
  uint64_t exits_ = 0, kicks_ = 0, windows_ = 0, injections_ = 0, nmis_ = 0;
  // An NMI is latched but the guest blocks NMIs: look again this soon.
  static constexpr uint64_t kNmiRetryNs = 200'000;
  bool nmi_waiting_ = false;
  // A completed instruction injected an exception at this exit: interrupts
  // wait for the window after it (ExitDispatcher::take_injected_exception).
  std::optional<Completion> exception_going_in_;
  int console_fd_ = -1;
};

}  // namespace rrvm
