// What the run loop needs from the machine's devices: the two buses, the
// interrupt source for the vCPU, the devices with timers, and a place where
// device callbacks (debug-exit, ACPI power-off) leave a stop request.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <vector>

#include <linux/kvm.h>

#include "devices/interrupt_controller.h"
#include "devices/lapic.h"
#include "devices/timed_device.h"
#include "vmm/bus.h"
#include "vmm/run_result.h"

namespace rrvm {

struct Board {
  Bus pio{"I/O port"};
  Bus mmio{"MMIO"};
  InterruptController* interrupts = nullptr;
  std::vector<TimedDevice*> timers;
  std::optional<RunResult> stop;
  // The userspace local APIC, whose TPR bits 7:4 are the guest's CR8 (Intel
  // SDM vol. 3, 11.8.6.1). Without an in-kernel LAPIC, KVM keeps CR8 in
  // kvm_run: guest MOV-to-CR8 shows up there at exits, and what we leave there
  // is loaded at entry. Null on boards without one.
  Lapic* lapic = nullptr;
  // Copies a CR8 the guest wrote into the LAPIC, then the LAPIC's TPR (which
  // an MMIO write may have changed) back into kvm_run.
  void sync_cr8(kvm_run* run) {
    if (!lapic) return;
    if (run->cr8 != cr8_seen_) lapic->set_tpr(static_cast<uint8_t>(run->cr8 << 4));
    cr8_seen_ = run->cr8 = lapic->tpr() >> 4;
  }
  // Where console input goes (the COM1 receiver); returns the bytes taken.
  std::function<size_t(std::span<const uint8_t>)> console_input;
  // Who raises `vector` ("IOAPIC pin 18: rtl8139"), for reports; empty
  // when the board cannot tell.
  std::function<std::string(uint8_t vector)> describe_vector;
  // Where frames from the network go (the NIC's receive path); empty
  // without a NIC. Returns whether the NIC took the frame.
  std::function<bool(std::span<const uint8_t>)> net_input;
  // ACPI S3 (suspend to RAM): true while the machine sleeps, when the vCPU
  // is not entered (empty on boards without it). The device access that
  // puts it to sleep leaves in `resume_vector` the real-mode address where
  // the CPU starts again on waking (the FACS Firmware_Waking_Vector), and
  // the exit's handling resets the vCPU there at once (resume_in_real_mode).
  std::function<bool()> asleep;
  std::optional<uint32_t> resume_vector;
  bool sleeping() const { return asleep && asleep(); }

  // Earliest deadline of any timer, in guest ns.
  std::optional<uint64_t> next_deadline() const {
    std::optional<uint64_t> best;
    for (auto* t : timers) {
      auto d = t->next_deadline_ns();
      if (d && (!best || *d < *best)) best = d;
    }
    return best;
  }
  void advance_timers(uint64_t now_ns) {
    for (auto* t : timers) t->advance(now_ns);
  }
  // Advances the timers to `now_ns` if one is due by then. Timers move only
  // when one is due, so a run logs one time value per timer event rather
  // than one per exit; replay recomputing virtual time calls the same.
  bool advance_due_timers(uint64_t now_ns) {
    auto due = next_deadline();
    if (!due || now_ns < *due) return false;
    advance_timers(now_ns);
    return true;
  }
  // The interrupt to inject at this entry, acknowledged, if the guest can
  // take one now: IF set and no interrupt shadow (kvm_run's if_flag and
  // ready_for_interrupt_injection). The run loop and replay share this rule.
  std::optional<uint8_t> take_interrupt(const kvm_run& run) {
    if (!interrupts || !interrupts->has_interrupt()) return std::nullopt;
    if (!run.ready_for_interrupt_injection || !run.if_flag) return std::nullopt;
    return interrupts->acknowledge();
  }

  // For machine checkpoints: the stop request and the CR8 mirror. The
  // devices' States are the board's DeviceStates (vmm/device_states.h).
  struct State {
    std::optional<RunResult> stop;
    uint64_t cr8_seen = 0;
  };
  State save() const { return {stop, cr8_seen_}; }
  void restore(const State& s) {
    stop = s.stop;
    cr8_seen_ = s.cr8_seen;
  }

 private:
  uint64_t cr8_seen_ = 0;
};

}  // namespace rrvm
