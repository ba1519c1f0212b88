#include "devices/eeprom93c46.h"

namespace rrvm {

void Eeprom93c46::set_pins(bool cs, bool sk, bool din) {
  if (!cs) {  // deselect: the next command starts from scratch
    s_ = State{s_.words};
    s_.sk = sk;
    return;
  }
  bool rising = sk && !s_.sk;
  s_.cs = true;
  s_.sk = sk;
  if (rising) clock_in(din);
}

void Eeprom93c46::clock_in(bool din) {
  if (s_.bits_out) {  // shifting data out: DO shows the next bit
    s_.dout = (s_.data >> 15) & 1;
    s_.data = static_cast<uint16_t>(s_.data << 1);
    --s_.bits_out;
    return;
  }
  if (s_.bits_in == 0 && !din) return;  // waiting for the start bit
  s_.command = static_cast<uint16_t>(s_.command << 1 | din);
  if (++s_.bits_in < 9) return;  // start + opcode (2) + address (6)
  uint8_t opcode = (s_.command >> 6) & 3;
  uint8_t addr = s_.command & 0x3f;
  s_.bits_in = 0;
  s_.command = 0;
  if (opcode == 2) {  // READ: a dummy 0 bit, then the word
    s_.dout = false;
    s_.data = s_.words[addr];
    s_.bits_out = 16;
  }
}

}  // namespace rrvm
