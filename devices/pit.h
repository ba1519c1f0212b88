// Intel 8254 programmable interval timer as wired on a PC: channel 0 drives
// IRQ0, channel 1 is the (unused) refresh timer, channel 2's gate and output
// are port 0x61 bits 0 and 5.
//
// Reference: Intel 8254 datasheet (order 231164-005): control word format,
// modes 0-5, counter latch and read-back commands, status byte. Port 0x61:
// IBM PC/AT Technical Reference, "System Control Port B".
//
// Time model: nothing ticks. Every channel keeps the tick at which its count
// started, and counts, outputs and the next IRQ0 edge are computed from the
// Clock (1,193,182 Hz ticks since power-on) when asked.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "devices/clock.h"
#include "devices/io_device.h"
#include "devices/irq_line.h"
#include "devices/timed_device.h"

namespace rrvm {

// IoDevice: 4 ports, map at 0x40 (0x40-0x42 counters 0-2, 0x43 control word).
// port61(): 1 port, map at 0x61. Wider accesses are split into byte accesses.
//
// IRQ0 is edge-triggered on the PC (ELCR bit 0 is hard-wired to 0), so each
// rising edge of OUT0 is delivered as irq0.pulse(). advance() raises at most
// one edge however many periods went by since the last call (a slow host, a
// long HLT): the PIC latches only one edge anyway, and a guest that counts
// ticks sees the same as on a real PC whose CPU had interrupts masked that long.
//
// Simplifications (documented deviations from the datasheet):
// - A written count reaches the counting element at once, not on the next
//   CLK edge (840 ns later).
// - Mode 3 takes a count written while counting at the end of the current
//   period, not the current half-period.
// - Count 1 in modes 2 and 3 (illegal per datasheet) behaves as 2.
class Pit8254 final : public IoDevice, public TimedDevice {
 public:
  static constexpr uint64_t kHz = 1'193'182;

  struct Channel {
    uint8_t mode_bits = 0;  // control word bits 3-1 as written (6, 7 alias 2, 3)
    uint8_t access = 3;     // 1 = LSB, 2 = MSB, 3 = LSB then MSB
    bool bcd = false;
    uint32_t reload = 0x10000;  // count N as a number, 1..65536 (10000 in BCD)
    bool loaded = false;        // a count was written since the control word
    bool waiting = false;       // modes 1, 5: count loaded, awaiting a gate trigger
    bool counting = false;      // the counting element is decrementing
    uint64_t start_tick = 0;    // tick at which the element held `reload`
    uint64_t held_ticks = 0;    // elapsed ticks frozen while not counting
    uint32_t held_count = 0;    // count shown before any count is loaded
    bool pending = false;       // a new count takes effect at pending_tick
    uint32_t pending_reload = 0;
    uint64_t pending_tick = 0;
    bool gate = true;
    bool null_count = true;       // status bit 6
    bool write_msb_next = false;  // LSB-then-MSB write sequence
    uint8_t write_lsb = 0;
    bool read_msb_next = false;  // LSB-then-MSB read sequence
    bool count_latched = false;
    uint16_t latched = 0;
    bool status_latched = false;
    uint8_t status = 0;
  };

  struct State {
    std::array<Channel, 3> ch{};
    uint64_t irq0_done_tick = 0;  // OUT0 rising edges up to this tick are raised
    uint8_t port61 = 0;           // bits 3-0 as written
    bool refresh = false;         // port 0x61 bit 4
  };

  Pit8254(Clock& clock, IrqLine& irq0);

  std::string_view name() const override { return "pit"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  std::optional<uint64_t> next_deadline_ns() const override;
  void advance(uint64_t now_ns) override;

  IoDevice& port61() { return port61_; }

  // OUT level of a channel now (diagnostics and tests).
  bool out(int channel);

  State save() const { return s_; }
  void restore(const State& s);

 private:
  class Port61 final : public IoDevice {
   public:
    explicit Port61(Pit8254& pit) : pit_(pit) {}
    std::string_view name() const override { return "port61"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    Pit8254& pit_;
  };

  uint64_t now_tick() { return ns_to_ticks(clock_.now_ns(), kHz); }
  void sync(uint64_t tick);
  void deliver_irq0(uint64_t tick);
  uint8_t read_counter(Channel& c, uint64_t tick);
  void write_counter(Channel& c, uint8_t v, uint64_t tick);
  void control(uint8_t v, uint64_t tick);
  void read_back(uint8_t v, uint64_t tick);
  void latch_count(Channel& c, uint64_t tick);
  void set_gate(Channel& c, bool level, uint64_t tick);
  uint8_t read_port61();
  void write_port61(uint8_t v);

  Clock& clock_;
  IrqLine& irq0_;
  State s_;
  Port61 port61_{*this};
};

}  // namespace rrvm
