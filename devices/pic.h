// Intel 8259A programmable interrupt controller, and the PC/AT pair of them
// (master at 0x20, slave at 0xA0 on master IR2, ELCR at 0x4D0/0x4D1).
//
// Reference: Intel 8259A datasheet (order 231468-003): ICW1-4 (section
// "Initialization Command Words"), OCW1-3 ("Operation Command Words"),
// priority modes, poll command; Intel 82371AB (PIIX4) datasheet, ELCR1/ELCR2.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "devices/interrupt_controller.h"
#include "devices/io_device.h"
#include "devices/irq_line.h"

namespace rrvm {

// One 8259A. Pure state machine: a port byte in, a port byte out, input pin
// levels in, the INT pin and the INTA cycle out. x86 (8086) mode only; the
// 8080/85 call-address mode (ICW4 bit 0 = 0) is accepted and treated as 8086.
class Pic8259 {
 public:
  struct State {
    uint8_t irr = 0;                    // interrupt request register
    uint8_t isr = 0;                    // in-service register
    uint8_t imr = 0xff;                 // interrupt mask register (OCW1)
    uint8_t lines = 0;                  // current level of the IR0-7 input pins
    uint8_t elcr = 0;                   // inputs set level-triggered by the chipset's ELCR
    uint8_t vector_base = 0;            // ICW2 bits 7-3
    uint8_t icw3 = 0;                   // master: IRs with a slave; slave: its ID
    uint8_t init_step = 0;              // 0 = operational, else the ICW (2, 3, 4) expected next
    uint8_t lowest_priority = 7;        // IR with the lowest priority (rotation state)
    bool icw4_needed = false;           // ICW1 IC4
    bool single = false;                // ICW1 SNGL: no cascade, no ICW3
    bool level_all = false;             // ICW1 LTIM: every input level-triggered
    bool auto_eoi = false;              // ICW4 AEOI
    bool special_fully_nested = false;  // ICW4 SFNM
    bool rotate_on_aeoi = false;        // OCW2 R=1 SL=0 EOI=0
    bool special_mask = false;          // OCW3 ESMM/SMM
    bool read_isr = false;              // OCW3 RR/RIS: port 0 reads ISR, else IRR
    bool poll = false;                  // OCW3 P: the next read is the poll word
  };

  // The result of an INTA cycle: which IR was acknowledged. `spurious` means
  // no request was left, so the chip answered IR7 without setting its ISR bit
  // (datasheet, "Interrupt Sequence": the default IR7 response).
  struct Ack {
    int ir;
    bool spurious;
  };

  explicit Pic8259(bool is_master) : master_(is_master) {}

  // Port access; a0 is address line A0 (0 = even port, 1 = odd port).
  uint8_t read_port(int a0);
  void write_port(int a0, uint8_t value);

  // Drives input pin `ir` (0-7). Edge-triggered inputs latch a low->high
  // change in IRR; level-triggered inputs make IRR follow the pin.
  void set_input(int ir, bool level);
  // ELCR bits: 1 = level-triggered input.
  void set_elcr(uint8_t elcr);
  uint8_t elcr() const { return s_.elcr; }

  // The IR the INT pin is asserted for, or -1 when INT is low.
  int pending_ir() const;
  bool output() const { return pending_ir() >= 0; }
  // The INTA cycle (also what the poll command does).
  Ack acknowledge();
  // True when `ir` has a slave behind it (master in cascade mode).
  bool has_slave_on(int ir) const;
  uint8_t vector_for(int ir) const { return static_cast<uint8_t>(s_.vector_base | (ir & 7)); }

  State save() const { return s_; }
  void restore(const State& s);

 private:
  uint8_t level_mask() const { return s_.level_all ? 0xff : s_.elcr; }
  int rank(int ir) const { return (ir - s_.lowest_priority - 1) & 7; }
  int highest(uint8_t mask) const;
  void icw1(uint8_t v);
  void next_icw(uint8_t v);
  void ocw2(uint8_t v);
  void ocw3(uint8_t v);
  uint8_t poll_word();

  bool master_;
  State s_;
};

// The PC/AT pair. Implements InterruptController for the vCPU's INTR pin.
//
// I/O views (each an IoDevice the VMM maps; offsets are relative):
//   master_io(): 2 ports, map at 0x20   (0x20 command, 0x21 data)
//   slave_io():  2 ports, map at 0xA0   (0xA0 command, 0xA1 data)
//   elcr_io():   2 ports, map at 0x4D0  (0x4D0 ELCR1 = IRQ0-7, 0x4D1 ELCR2 = IRQ8-15)
// Wider accesses are split into byte accesses at consecutive ports, as the ISA
// bus does for an 8-bit device.
//
// Inputs: irq(n), n = 0..15. IRQ2 is the cascade pin on the AT, so irq(2)
// returns the IRQ9 line (the AT wires ISA bus IRQ2 to slave IR1).
//
// Power-on state: what a PC BIOS leaves behind (SeaBIOS pic_setup): master
// vectors 0x08-0x0F, slave 0x70-0x77, cascade on IR2, all inputs masked
// except the cascade. rrvm boots kernels without a BIOS, so it starts there.
class PicPair final : public InterruptController {
 public:
  struct State {
    Pic8259::State master;
    Pic8259::State slave;
  };

  PicPair();
  PicPair(const PicPair&) = delete;
  PicPair& operator=(const PicPair&) = delete;

  IrqLine& irq(int n);
  IoDevice& master_io() { return master_io_; }
  IoDevice& slave_io() { return slave_io_; }
  IoDevice& elcr_io() { return elcr_io_; }

  // InterruptController. acknowledge() returns nullopt when INTR is low (the
  // CPU would run no INTA cycle); a slave request that vanished after the
  // master latched IR2 gives the slave's IR7 vector (spurious IRQ15) with the
  // master's IR2 in service, as on hardware.
  bool has_interrupt() const override { return master_.output(); }
  std::optional<uint8_t> acknowledge() override;

  // Board set-up, as a BIOS programs ELCR for PCI interrupts: bit n = IRQn
  // level-triggered. Bits hard-wired to edge on the PC (IRQ0-2, 8, 13) are ignored.
  void set_elcr(uint16_t irqs);

  void reset();
  State save() const { return {master_.save(), slave_.save()}; }
  void restore(const State& s);

  // Direct access for diagnostics and tests.
  const Pic8259& master() const { return master_; }
  const Pic8259& slave() const { return slave_; }

 private:
  enum class Port { kMaster, kSlave, kElcr };

  class Input final : public IrqLine {
   public:
    Input(PicPair& pair, int n) : pair_(pair), n_(n) {}
    void set_level(bool high) override { pair_.set_irq(n_, high); }

   private:
    PicPair& pair_;
    int n_;
  };

  class View final : public IoDevice {
   public:
    View(PicPair& pair, Port port, std::string_view name) : pair_(pair), port_(port), name_(name) {}
    std::string_view name() const override { return name_; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    PicPair& pair_;
    Port port_;
    std::string_view name_;
  };

  void set_irq(int n, bool level);
  uint8_t port_read(Port port, int a0);
  void port_write(Port port, int a0, uint8_t value);
  // The slave's INT pin drives master IR2.
  void sync_cascade() { master_.set_input(kCascadeIr, slave_.output()); }

  static constexpr int kCascadeIr = 2;
  Pic8259 master_{true};
  Pic8259 slave_{false};
  std::array<Input, 16> inputs_;
  View master_io_{*this, Port::kMaster, "pic-master"};
  View slave_io_{*this, Port::kSlave, "pic-slave"};
  View elcr_io_{*this, Port::kElcr, "pic-elcr"};
};

}  // namespace rrvm
