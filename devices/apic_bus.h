// The local APIC as seen from the APIC bus (82093AA datasheet, 3.2 "Interrupt
// delivery"; Intel SDM vol. 3 10/11.6 "Issuing Interrupts"): what an IOAPIC
// message needs to reach the CPU. rrvm has one CPU and one local APIC
// (devices/lapic.h); the interface keeps the IOAPIC testable without it.
#pragma once

#include <cstdint>

namespace rrvm {

class ApicMessageSink {
 public:
  virtual ~ApicMessageSink() = default;
  // Whether a message addressed to `destination` selects this APIC: in
  // physical mode the APIC ID (0xFF = broadcast), in logical mode the
  // logical destination register's bits under the flat or cluster model.
  virtual bool is_destination(uint8_t destination, bool logical) const = 0;
  // A fixed or lowest-priority interrupt message. Returns false if the APIC
  // did not accept it (software-disabled, or an illegal vector 0-15): a
  // level-triggered IOAPIC input then does not set Remote IRR.
  virtual bool accept_interrupt(uint8_t vector, bool level_triggered) = 0;
  // An NMI message.
  virtual void accept_nmi() = 0;
};

}  // namespace rrvm
