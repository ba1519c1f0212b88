// National Semiconductor NS16550A UART, as COM1 on a PC (0x3F8, IRQ4).
//
// Reference: NS16550A datasheet (National, June 1995): Table II "Summary of
// Registers", section 8 register descriptions (8.4 IIR, 8.5 FCR, 8.6 LCR,
// 8.7 MCR, 8.8 LSR, 8.9 MSR, 8.10 IER), and the loopback description in 8.7.
//
// Transmission is instantaneous: a byte written to THR goes straight to the
// CharSink, so THR and the transmitter are always empty (LSR THRE = TEMT = 1)
// and the THR-empty interrupt comes back right after each write. Input comes
// from the VMM through receive() at an exit, so it is an ordinary recorded
// input. Because input arrives in bursts, the line is idle after each burst:
// the FIFO character-timeout indication (IIR 0xC) is given at once instead of
// after four character times.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "devices/char_backend.h"
#include "devices/io_device.h"
#include "devices/irq_line.h"

namespace rrvm {

// IoDevice: 8 ports, map at 0x3F8 for COM1. Wider accesses are split into
// byte accesses at consecutive registers.
// IRQ: a level, high while an interrupt is pending, gated by MCR OUT2 as on
// the PC (OUT2 enables the IRQ driver). In loopback the OUT2 pin is forced
// inactive (datasheet 8.7), so no IRQ reaches the PIC then.
class Uart16550 final : public IoDevice {
 public:
  static constexpr size_t kFifoSize = 16;

  struct State {
    std::array<uint8_t, kFifoSize> rx{};
    uint8_t rx_head = 0;   // index of the oldest byte
    uint8_t rx_count = 0;  // bytes in the RX FIFO (holding register: at most 1)
    uint8_t ier = 0;
    uint8_t lcr = 0;
    uint8_t mcr = 0;
    uint8_t fcr = 0;         // FIFO enable, DMA mode and RX trigger bits as written
    uint8_t lsr_errors = 0;  // OE (and PE, FE, BI, never produced here)
    uint8_t msr = 0;         // modem inputs (bits 7-4) and their deltas (3-0)
    uint8_t scr = 0;
    uint8_t dll = 0x0c;  // divisor latch: 9600 baud from 1.8432 MHz
    uint8_t dlm = 0;
    bool thre_pending = false;  // THR-empty interrupt condition
    bool irq_level = false;
  };

  Uart16550(CharSink& out, IrqLine& irq, std::string name = "uart0");

  std::string_view name() const override { return name_; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Bytes arriving on the serial line. Each goes into the RX FIFO (16 bytes,
  // 1 with FIFOs off); on overflow OE is set and the byte is lost (FIFO mode)
  // or overwrites the holding register (16450 mode). In loopback the serial
  // input is disconnected and the bytes are dropped. Returns how many bytes
  // were stored.
  size_t receive(std::span<const uint8_t> bytes);
  // Room left in the RX FIFO, for a VMM that wants to pace its input.
  size_t rx_free() const;

  State save() const { return s_; }
  void restore(const State& s);

 private:
  uint8_t read_reg(uint64_t reg);
  void write_reg(uint64_t reg, uint8_t v);
  uint8_t read_rbr();
  uint8_t read_iir();
  uint8_t read_lsr();
  uint8_t read_msr();
  void write_thr(uint8_t v);
  void write_ier(uint8_t v);
  void write_fcr(uint8_t v);
  void write_mcr(uint8_t v);
  bool push_rx(uint8_t v);
  uint8_t interrupt_id() const;
  bool fifo_enabled() const;
  size_t rx_trigger() const;
  uint8_t modem_inputs() const;
  void update_irq();

  CharSink& out_;
  IrqLine& irq_;
  std::string name_;
  State s_;
};

}  // namespace rrvm
