// Intel 82093AA I/O Advanced Programmable Interrupt Controller (IOAPIC).
//
// Reference: Intel 82093AA I/O APIC datasheet (order 290566-001): 3.0
// "Register Description" (IOREGSEL 00h, IOWIN 10h; IOAPICID 00h, IOAPICVER
// 01h, IOAPICARB 02h, IOREDTBL[0:23] 10h-3Fh), 3.2.4 redirection table
// entry fields, 2.4 "Interrupt Delivery" (edge vs level, Remote IRR and the
// EOI message).
//
// Inputs are logical levels (asserted / not asserted), as in QEMU and KVM:
// the Interrupt Input Pin Polarity bit is stored and read back but does not
// invert the input. Delivery is instant (Delivery Status always reads idle).
// Delivery modes: fixed and lowest priority (to the one LAPIC) and NMI
// (edge-triggered whatever the trigger mode bit says, vector ignored, as
// 3.2.4 requires; it ends as the LAPIC's pending NMI). SMI, INIT and ExtINT
// are dropped with a warning.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "devices/apic_bus.h"
#include "devices/io_device.h"
#include "devices/irq_line.h"
#include "devices/warn.h"

namespace rrvm {

// IoDevice: MMIO, kMmioSize bytes, map at 0xFEC00000. IOREGSEL at offset
// 0x00, IOWIN at 0x10; both are dword registers. Other offsets read 0 and
// ignore writes; non-dword or unaligned accesses are answered with the
// bytes of the dword (reads) or ignored (writes), with a warning.
//
// Inputs: irq(pin), pin 0-23, e.g. ISA IRQs on 0-15 (IRQ0 on pin 2, per the
// MADT override), PCI PIRQA-D on 16-19 (devices/pci_irq_router.h).
// Output: messages to an ApicMessageSink (the local APIC). The local APIC's
// EOI for a level-triggered vector must be passed to eoi(vector).
class Ioapic final : public IoDevice {
 public:
  static constexpr int kPins = 24;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint32_t kVersion = 0x00170011;  // max redirection entry 23, version 11h

  struct State {
    uint8_t id = 0;        // IOAPICID bits 27:24
    uint8_t ioregsel = 0;  // IOREGSEL bits 7:0
    std::array<uint64_t, kPins> redirection{};
    uint32_t levels = 0;  // current input levels, bit per pin
  };

  // `id`: the IOAPIC ID at reset; it must match the MP table and MADT.
  Ioapic(ApicMessageSink& cpu, uint8_t id, WarnFn warn = {});
  Ioapic(const Ioapic&) = delete;
  Ioapic& operator=(const Ioapic&) = delete;

  std::string_view name() const override { return "ioapic"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Input pin `pin` (0-23). Throws std::out_of_range for other pins.
  IrqLine& irq(int pin);

  // The EOI message the local APIC broadcasts for a level-triggered vector:
  // clears Remote IRR of the entries with that vector, and delivers again
  // if the input is still asserted.
  void eoi(uint8_t vector);

  // The redirection entry of `pin`, for diagnostics and tests.
  uint64_t redirection(int pin) const { return s_.redirection.at(pin); }

  State save() const { return s_; }
  void restore(const State& s);

 private:
  class Input final : public IrqLine {
   public:
    Input(Ioapic& ioapic, int pin) : ioapic_(ioapic), pin_(pin) {}
    void set_level(bool high) override { ioapic_.set_input(pin_, high); }

   private:
    Ioapic& ioapic_;
    int pin_;
  };

  uint32_t read_register(uint8_t index) const;
  void write_register(uint8_t index, uint32_t value);
  void write_redirection(int pin, bool high_half, uint32_t value);
  uint32_t read_dword(uint64_t offset) const;
  void write_dword(uint64_t offset, uint32_t value);
  void set_input(int pin, bool level);
  void deliver_if_pending(int pin);
  void deliver(int pin);
  bool asserted(int pin) const { return (s_.levels >> pin) & 1; }

  ApicMessageSink& cpu_;
  WarnFn warn_;
  State s_;
  std::vector<Input> inputs_;
};

}  // namespace rrvm
