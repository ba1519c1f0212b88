// The seam where recording hooks into a live run. Every nondeterministic
// value the guest can observe passes through one of these calls (DESIGN.md,
// Determinism model) — except device clock reads, which go through the Clock
// the machine hands its devices. A plain run uses the no-op base class.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "vmm/instruction_completion.h"
#include "vmm/run_result.h"

namespace rrvm {

class ExecHooks {
 public:
  virtual ~ExecHooks() = default;
  // A natural exit (I/O, MMIO, HLT) happened; `ordinal` counts them from 1.
  // Called before the exit is handled: events it causes carry this ordinal.
  virtual void on_exit(uint64_t ordinal) { (void)ordinal; }
  // A read is about to return `data` to the guest (after any unmapped
  // all-ones fill). Recording logs it; replay replaces it with the recorded
  // value, after comparing it with what the device model produced.
  virtual void on_port_read(uint16_t port, std::span<uint8_t> data) { (void)port, (void)data; }
  virtual void on_mmio_read(uint64_t addr, std::span<uint8_t> data) { (void)addr, (void)data; }
  // RDMSR of an MSR rrvm models (the LAPIC's) is about to return `value`
  // (nullopt: #GP). Recording logs a value; replay checks the outcome and
  // gives the guest the recorded value.
  virtual void on_msr_read(uint32_t msr, std::optional<uint64_t>& value) { (void)msr, (void)value; }
  // Timers were brought up to `now_ns` (guest time), at a natural exit or,
  // with async = true, at a kick or interrupt-window exit.
  virtual void on_timer_advance(uint64_t now_ns, bool async) { (void)now_ns, (void)async; }
  // Virtual time (--clock virtual) jumped to `to_ns`, the next timer
  // deadline, while the guest halted at the current exit.
  virtual void on_halt_skip(uint64_t to_ns) { (void)to_ns; }
  // Virtual time moved on by `ns` at a kick because the guest ran that long
  // without an exit (VirtualClock, spinning): where this happens is the
  // host's timing.
  virtual void on_spin(uint64_t ns) { (void)ns; }
  // `vector` is about to be injected. async: not at a natural exit, so its
  // position must be recorded as a landmark.
  virtual void on_inject(uint8_t vector, bool async) { (void)vector, (void)async; }
  // An NMI is about to be injected (KVM_NMI); async as for on_inject.
  virtual void on_nmi(bool async) { (void)async; }
  // Bytes written into guest memory from a host source (console, network).
  virtual void on_console_input(std::span<const uint8_t> bytes) { (void)bytes; }
  // A frame from the network back end is about to reach the NIC.
  virtual void on_packet(std::span<const uint8_t> frame) { (void)frame; }
  // rrvm completed the instruction at `rip`, which KVM could not emulate
  // (vmm/instruction_completion.h), at the current exit. Recording logs it;
  // replay checks that it did the same.
  virtual void on_completion(const Completion& c, uint64_t rip) { (void)c, (void)rip; }
  virtual void on_stop(const RunResult& result) { (void)result; }
  // Host nanoseconds between on_housekeeping() calls (0: never). The run
  // loop kicks the vCPU for it even when no device timer is due, so a
  // recording reaches the disk at least this often.
  virtual uint64_t housekeeping_interval_ns() const { return 0; }
  virtual void on_housekeeping() {}
};

}  // namespace rrvm
