// What the vCPU's interrupt arbiter asks of the chip that drives its INTR pin
// (the 8259 pair in virtual-wire mode, or the LAPIC fed by the IOAPIC), and
// what the run loop asks of the arbiter (Board::interrupts): the INTR and
// NMI inputs of the CPU.
#pragma once

#include <cstdint>
#include <optional>

namespace rrvm {

class InterruptController {
 public:
  virtual ~InterruptController() = default;
  // True when INTR is asserted (an unmasked request with enough priority).
  virtual bool has_interrupt() const = 0;
  // The INTA cycle: returns the vector and moves the request to in-service.
  // nullopt if nothing is pending any more (spurious cases return the
  // chip's spurious vector instead, as the hardware does).
  virtual std::optional<uint8_t> acknowledge() = 0;
  // The NMI line (the VMM injects it with KVM_NMI). take_nmi() returns true
  // once per pending NMI and clears it. Chips without an NMI output (the
  // 8259) never have one.
  virtual bool nmi_pending() const { return false; }
  virtual bool take_nmi() { return false; }
};

}  // namespace rrvm
