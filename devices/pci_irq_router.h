// PCI INTx routing on the PIIX3 PC: from a device's INTA#-INTD# pin to a
// PIRQ line, and from the PIRQ line to both interrupt controllers at once:
//   (a) the 8259 IRQ chosen by the ISA bridge's PIRQ route register
//       (devices/piix_isa.h), and
//   (b) IOAPIC input 16 + PIRQ (PIRQA-D -> GSI 16-19), as QEMU's PC wires it
//       and as the MP table / ACPI _PRT the firmware builds describe it.
//
// Swizzle: device `slot` on bus 0, interrupt pin `pin` (1-4 = INTA#-INTD#,
// the Interrupt Pin register's encoding) uses
//     PIRQ = (slot + (pin - 1) - 1) & 3,
// i.e. INTA# of slot 1 is PIRQA, of slot 2 PIRQB, of slot 3 PIRQC, of slot 0
// PIRQD. This is QEMU's pc_pci_slot_get_pirq (pin counted from 0 there) and
// SeaBIOS's piix_pci_slot_get_irq; the firmware tables must use pirq_for().
//
// PCI interrupts are level-triggered and shareable (PCI 3.0, 2.2.6): a PIRQ
// is asserted while any INTx# mapped to it is, and an IRQ/IOAPIC input while
// any PIRQ routed to it is (wired-OR). Levels here are logical ("asserted"),
// whatever electrical polarity the real open-drain lines have.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "devices/irq_line.h"
#include "devices/piix_isa.h"

namespace rrvm {

class PciIrqRouter {
 public:
  static constexpr int kSlots = 32;
  static constexpr int kPicIrqs = 16;
  static constexpr int kFirstApicPin = 16;  // IOAPIC input of PIRQA

  static constexpr int pirq_for(int slot, int pin) { return (slot + pin - 2) & 3; }
  static constexpr int apic_pin_for(int slot, int pin) {
    return kFirstApicPin + pirq_for(slot, pin);
  }

  struct State {
    std::array<uint8_t, kSlots> asserted{};  // per slot: bit (pin - 1) = INTx# asserted
    uint16_t pic_driven = 0;                 // 8259 IRQ levels this router last drove
    uint8_t apic_driven = 0;                 // IOAPIC inputs 16-19 it last drove
  };

  // pic[n] is 8259 IRQ n (nullptr: not connected); apic[p] is IOAPIC input
  // 16 + p. Registers itself as `isa`'s route observer.
  PciIrqRouter(PiixIsa& isa, const std::array<IrqLine*, kPicIrqs>& pic,
               const std::array<IrqLine*, PiixIsa::kPirqs>& apic);
  PciIrqRouter(const PciIrqRouter&) = delete;
  PciIrqRouter& operator=(const PciIrqRouter&) = delete;

  // The INTx# wire of device `slot` (0-31), `pin` 1-4; give it to the
  // device's PciConfig::connect_intx(). Throws std::out_of_range otherwise.
  IrqLine& intx(int slot, int pin);

  bool pirq_level(int pirq) const;

  // Recomputes every output from the INTx levels and the route registers.
  // Called by the ISA bridge on route changes; harmless at any time.
  void update();

  State save() const { return s_; }
  // Pure: sets the state only. The PIC and IOAPIC restore their own input levels.
  void restore(const State& s) { s_ = s; }

 private:
  class Input final : public IrqLine {
   public:
    Input(PciIrqRouter& router, int slot, int pin) : router_(router), slot_(slot), pin_(pin) {}
    void set_level(bool high) override { router_.set_intx(slot_, pin_, high); }

   private:
    PciIrqRouter& router_;
    int slot_;
    int pin_;
  };

  void set_intx(int slot, int pin, bool level);
  template <typename Bits>
  static void drive_changes(std::span<IrqLine* const> lines, Bits& driven, Bits levels);

  PiixIsa& isa_;
  std::array<IrqLine*, kPicIrqs> pic_;
  std::array<IrqLine*, PiixIsa::kPirqs> apic_;
  std::vector<Input> inputs_;  // kSlots * 4, never resized after construction
  State s_;
};

}  // namespace rrvm
