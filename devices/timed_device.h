// Devices with timers are computed lazily from the Clock (QEMU rtl8139's
// base-time + compute-on-read shape). The VMM asks each one when it next needs
// attention and calls advance() at or after that time, at an exit, so that the
// interrupt it raises is injected at a deterministic point.
#pragma once

#include <cstdint>
#include <optional>

namespace rrvm {

class TimedDevice {
 public:
  virtual ~TimedDevice() = default;
  // Absolute Clock time (ns) of the next event, or nullopt when idle.
  virtual std::optional<uint64_t> next_deadline_ns() const = 0;
  // Bring the device's timers up to `now_ns`, raising IRQs that became due.
  virtual void advance(uint64_t now_ns) = 0;
};

}  // namespace rrvm
