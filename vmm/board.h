// What the run loop needs from the machine's devices: the two buses, the
// interrupt source for the vCPU, the devices with timers, and a place where
// device callbacks (debug-exit, ACPI power-off) leave a stop request.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "devices/interrupt_controller.h"
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
  // Where console input goes (the COM1 receiver); returns the bytes taken.
  std::function<size_t(std::span<const uint8_t>)> console_input;

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
};

}  // namespace rrvm
