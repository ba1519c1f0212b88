#include "devices/pic.h"

namespace rrvm {
namespace {

// ICW1 (A0 = 0, D4 = 1). 8259A datasheet, Figure 7.
constexpr uint8_t kIcw1Ic4 = 0x01;   // ICW4 will follow
constexpr uint8_t kIcw1Sngl = 0x02;  // single chip: no ICW3
constexpr uint8_t kIcw1Ltim = 0x08;  // level-triggered mode
constexpr uint8_t kIcw1Marker = 0x10;

// ICW4. Figure 7.
constexpr uint8_t kIcw4Aeoi = 0x02;
constexpr uint8_t kIcw4Sfnm = 0x10;

// OCW3 (A0 = 0, D4 = 0, D3 = 1). Figure 8.
constexpr uint8_t kOcw3Marker = 0x08;
constexpr uint8_t kOcw3Ris = 0x01;  // read ISR (with RR)
constexpr uint8_t kOcw3Rr = 0x02;   // read-register command
constexpr uint8_t kOcw3Poll = 0x04;
constexpr uint8_t kOcw3Smm = 0x20;  // special mask mode (with ESMM)
constexpr uint8_t kOcw3Esmm = 0x40;

// OCW2 bits 7-5 (R, SL, EOI). Figure 8.
enum Ocw2 : uint8_t {
  kRotateAeoiClear = 0,
  kNonSpecificEoi = 1,
  kNop = 2,
  kSpecificEoi = 3,
  kRotateAeoiSet = 4,
  kRotateNonSpecificEoi = 5,
  kSetPriority = 6,
  kRotateSpecificEoi = 7,
};

// Poll word: bit 7 = an interrupt was pending, bits 2-0 = its level.
constexpr uint8_t kPollInterrupt = 0x80;

// ELCR bits that are hard-wired to edge on a PC (PIIX4 datasheet, ELCR1/2):
// IRQ0 timer, IRQ1 keyboard, IRQ2 cascade; IRQ8 RTC, IRQ13 FPU.
constexpr uint8_t kElcr1Writable = 0xf8;
constexpr uint8_t kElcr2Writable = 0xde;

// The AT's reset state as a BIOS leaves it (SeaBIOS src/hw/pic.c pic_setup).
constexpr uint8_t kBiosMasterBase = 0x08;
constexpr uint8_t kBiosSlaveBase = 0x70;
constexpr uint8_t kBiosMasterMask = 0xfb;  // all but the cascade
constexpr uint8_t kBiosSlaveMask = 0xff;
constexpr uint8_t kSlaveId = 2;

constexpr uint8_t bit(int ir) {
  return static_cast<uint8_t>(1u << (ir & 7));
}

Pic8259::State bios_state(uint8_t base, uint8_t icw3, uint8_t imr) {
  Pic8259::State s;
  s.vector_base = base;
  s.icw3 = icw3;
  s.imr = imr;
  s.icw4_needed = true;
  return s;
}

}  // namespace

// ---- Pic8259 ---------------------------------------------------------------

int Pic8259::highest(uint8_t mask) const {
  for (int i = 0; i < 8; ++i) {
    int ir = (s_.lowest_priority + 1 + i) & 7;
    if (mask & bit(ir)) return ir;
  }
  return -1;
}

// Priority resolution (datasheet, "Fully Nested Mode", "Special Mask Mode",
// "Special Fully Nested Mode"): the highest unmasked request interrupts if
// no level of equal or higher priority is in service.
int Pic8259::pending_ir() const {
  int ir = highest(static_cast<uint8_t>(s_.irr & ~s_.imr));
  if (ir < 0) return -1;
  uint8_t blocking = s_.isr;
  // Special mask mode: a masked level's in-service bit no longer inhibits.
  if (s_.special_mask) blocking &= static_cast<uint8_t>(~s_.imr);
  int cur = highest(blocking);
  if (cur < 0 || rank(ir) < rank(cur)) return ir;
  // SFNM: a slave input in service still admits new requests from that slave
  // (they come from higher-priority slave levels).
  if (cur == ir && s_.special_fully_nested && master_ && has_slave_on(ir)) return ir;
  return -1;
}

bool Pic8259::has_slave_on(int ir) const {
  return master_ && !s_.single && (s_.icw3 & bit(ir)) != 0;
}

Pic8259::Ack Pic8259::acknowledge() {
  int ir = pending_ir();
  if (ir < 0) return {7, true};
  // Edge inputs: the latch is consumed. Level inputs: IRR keeps tracking the pin.
  if (!(level_mask() & bit(ir))) s_.irr &= static_cast<uint8_t>(~bit(ir));
  if (s_.auto_eoi) {
    if (s_.rotate_on_aeoi) s_.lowest_priority = static_cast<uint8_t>(ir);
  } else {
    s_.isr |= bit(ir);
  }
  return {ir, false};
}

void Pic8259::set_input(int ir, bool level) {
  uint8_t b = bit(ir);
  bool was = (s_.lines & b) != 0;
  s_.lines = level ? (s_.lines | b) : (s_.lines & ~b);
  if (level_mask() & b) {
    s_.irr = level ? (s_.irr | b) : (s_.irr & ~b);
  } else if (level && !was) {
    s_.irr |= b;
  }
}

void Pic8259::set_elcr(uint8_t elcr) {
  s_.elcr = elcr;
  uint8_t lm = level_mask();
  s_.irr = static_cast<uint8_t>((s_.irr & ~lm) | (s_.lines & lm));
}

uint8_t Pic8259::read_port(int a0) {
  if (s_.poll) return poll_word();
  if (a0 & 1) return s_.imr;
  return s_.read_isr ? s_.isr : s_.irr;
}

void Pic8259::write_port(int a0, uint8_t v) {
  if (a0 & 1) {
    if (s_.init_step != 0) {
      next_icw(v);
    } else {
      s_.imr = v;  // OCW1
    }
  } else if (v & kIcw1Marker) {
    icw1(v);
  } else if (v & kOcw3Marker) {
    ocw3(v);
  } else {
    ocw2(v);
  }
}

// ICW1 may come at any time and restarts initialization. Datasheet: IMR
// cleared, IR7 lowest priority, special mask mode off, status read = IRR,
// ICW4 functions zeroed if IC4 = 0, and the edge-sense circuit reset so an
// input must go low->high again to request.
void Pic8259::icw1(uint8_t v) {
  s_.icw4_needed = (v & kIcw1Ic4) != 0;
  s_.single = (v & kIcw1Sngl) != 0;
  s_.level_all = (v & kIcw1Ltim) != 0;
  s_.imr = 0;
  s_.isr = 0;
  s_.lowest_priority = 7;
  s_.special_mask = false;
  s_.read_isr = false;
  s_.poll = false;
  s_.rotate_on_aeoi = false;
  if (!s_.icw4_needed) {
    s_.auto_eoi = false;
    s_.special_fully_nested = false;
  }
  uint8_t lm = level_mask();
  s_.irr = static_cast<uint8_t>(s_.lines & lm);
  s_.init_step = 2;
}

void Pic8259::next_icw(uint8_t v) {
  switch (s_.init_step) {
    case 2:
      s_.vector_base = v & 0xf8;  // 8086 mode: T7-T3
      s_.init_step = !s_.single ? 3 : (s_.icw4_needed ? 4 : 0);
      break;
    case 3:
      s_.icw3 = v;
      s_.init_step = s_.icw4_needed ? 4 : 0;
      break;
    default:  // 4
      s_.auto_eoi = (v & kIcw4Aeoi) != 0;
      s_.special_fully_nested = (v & kIcw4Sfnm) != 0;
      s_.init_step = 0;
      break;
  }
}

void Pic8259::ocw2(uint8_t v) {
  int level = v & 7;
  switch (v >> 5) {
    case kRotateAeoiClear:
      s_.rotate_on_aeoi = false;
      break;
    case kRotateAeoiSet:
      s_.rotate_on_aeoi = true;
      break;
    case kNonSpecificEoi:
    case kRotateNonSpecificEoi: {
      int ir = highest(s_.isr);
      if (ir < 0) break;
      s_.isr &= static_cast<uint8_t>(~bit(ir));
      if ((v >> 5) == kRotateNonSpecificEoi) s_.lowest_priority = static_cast<uint8_t>(ir);
      break;
    }
    case kSpecificEoi:
      s_.isr &= static_cast<uint8_t>(~bit(level));
      break;
    case kRotateSpecificEoi:
      s_.isr &= static_cast<uint8_t>(~bit(level));
      s_.lowest_priority = static_cast<uint8_t>(level);
      break;
    case kSetPriority:
      s_.lowest_priority = static_cast<uint8_t>(level);
      break;
    default:  // kNop
      break;
  }
}

void Pic8259::ocw3(uint8_t v) {
  if (v & kOcw3Poll) s_.poll = true;
  if (v & kOcw3Rr) s_.read_isr = (v & kOcw3Ris) != 0;
  if (v & kOcw3Esmm) s_.special_mask = (v & kOcw3Smm) != 0;
}

// Poll command: the read acts as an INTA and returns the level.
uint8_t Pic8259::poll_word() {
  s_.poll = false;
  Ack ack = acknowledge();
  if (ack.spurious) return 7;
  return static_cast<uint8_t>(kPollInterrupt | ack.ir);
}

void Pic8259::restore(const State& s) {
  s_ = s;
  s_.lowest_priority &= 7;
  s_.vector_base &= 0xf8;
  if (s_.init_step != 0 && (s_.init_step < 2 || s_.init_step > 4)) s_.init_step = 0;
}

// ---- PicPair ---------------------------------------------------------------

PicPair::PicPair()
    : inputs_{Input(*this, 0),  Input(*this, 1),  Input(*this, 2),  Input(*this, 3),
              Input(*this, 4),  Input(*this, 5),  Input(*this, 6),  Input(*this, 7),
              Input(*this, 8),  Input(*this, 9),  Input(*this, 10), Input(*this, 11),
              Input(*this, 12), Input(*this, 13), Input(*this, 14), Input(*this, 15)} {
  reset();
}

// The input pins are outside the chip: their levels survive a reset, but the
// edge latches start empty.
void PicPair::reset() {
  Pic8259::State m = bios_state(kBiosMasterBase, bit(kCascadeIr), kBiosMasterMask);
  Pic8259::State s = bios_state(kBiosSlaveBase, kSlaveId, kBiosSlaveMask);
  m.lines = master_.save().lines;
  s.lines = slave_.save().lines;
  master_.restore(m);
  slave_.restore(s);
  sync_cascade();
}

IrqLine& PicPair::irq(int n) {
  n &= 15;
  if (n == kCascadeIr) n = 9;
  return inputs_[static_cast<size_t>(n)];
}

void PicPair::set_irq(int n, bool level) {
  if (n < 8) {
    master_.set_input(n, level);
  } else {
    slave_.set_input(n - 8, level);
    sync_cascade();
  }
}

void PicPair::set_elcr(uint16_t irqs) {
  port_write(Port::kElcr, 0, static_cast<uint8_t>(irqs));
  port_write(Port::kElcr, 1, static_cast<uint8_t>(irqs >> 8));
}

std::optional<uint8_t> PicPair::acknowledge() {
  if (!master_.output()) return std::nullopt;
  Pic8259::Ack m = master_.acknowledge();
  uint8_t vector = master_.vector_for(m.ir);
  if (master_.has_slave_on(m.ir)) {
    // The slave drives the data bus in the second INTA pulse; with nothing
    // left to request it answers its IR7 (spurious IRQ15).
    Pic8259::Ack s = slave_.acknowledge();
    vector = slave_.vector_for(s.ir);
  }
  sync_cascade();
  return vector;
}

uint8_t PicPair::port_read(Port port, int a0) {
  uint8_t v = 0xff;
  switch (port) {
    case Port::kMaster:
      v = master_.read_port(a0);
      break;
    case Port::kSlave:
      v = slave_.read_port(a0);  // a poll read acknowledges on the slave
      break;
    case Port::kElcr:
      v = a0 ? slave_.elcr() : master_.elcr();
      break;
  }
  sync_cascade();
  return v;
}

void PicPair::port_write(Port port, int a0, uint8_t v) {
  switch (port) {
    case Port::kMaster:
      master_.write_port(a0, v);
      break;
    case Port::kSlave:
      slave_.write_port(a0, v);
      break;
    case Port::kElcr:
      if (a0) {
        slave_.set_elcr(v & kElcr2Writable);
      } else {
        master_.set_elcr(v & kElcr1Writable);
      }
      break;
  }
  sync_cascade();
}

void PicPair::restore(const State& s) {
  master_.restore(s.master);
  slave_.restore(s.slave);
  // ELCR bits that are hard-wired on the PC cannot come back set.
  master_.set_elcr(master_.elcr() & kElcr1Writable);
  slave_.set_elcr(slave_.elcr() & kElcr2Writable);
  sync_cascade();
}

void PicPair::View::read(uint64_t offset, std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t off = offset + i;
    data[i] = off < 2 ? pair_.port_read(port_, static_cast<int>(off)) : 0xff;
  }
}

void PicPair::View::write(uint64_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t off = offset + i;
    if (off < 2) pair_.port_write(port_, static_cast<int>(off), data[i]);
  }
}

}  // namespace rrvm
