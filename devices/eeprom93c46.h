// 93C46 serial EEPROM (64 x 16 bits) behind the RTL8139's 9346CR register,
// read by drivers through bit-banging (Microchip 93C46 datasheet: start bit,
// 2-bit opcode, 6-bit address, then 16 data bits out, MSB first, each on a
// rising SK while CS is high). Only READ is modelled; write/erase opcodes
// are ignored (the contents are the VMM's configuration, not guest state).
#pragma once

#include <array>
#include <cstdint>

namespace rrvm {

class Eeprom93c46 {
 public:
  static constexpr int kWords = 64;

  struct State {
    std::array<uint16_t, kWords> words{};
    bool cs = false, sk = false, dout = true;
    uint8_t bits_in = 0;   // bits of the current command received
    uint16_t command = 0;  // start bit, opcode, address as shifted in
    uint8_t bits_out = 0;  // data bits still to send
    uint16_t data = 0;
  };

  explicit Eeprom93c46(const std::array<uint16_t, kWords>& words) { s_.words = words; }

  // Drives the chip's pins; returns nothing (read DO with dout()).
  void set_pins(bool cs, bool sk, bool din);
  bool dout() const { return s_.dout; }

  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  void clock_in(bool din);
  State s_;
};

}  // namespace rrvm
