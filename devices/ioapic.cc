#include "devices/ioapic.h"

#include <stdexcept>
#include <string>

#include "devices/hex.h"

namespace rrvm {
namespace {

// Memory-mapped registers (datasheet 3.0, Table 2).
constexpr uint64_t kIoRegSel = 0x00;
constexpr uint64_t kIoWin = 0x10;

// Indirect registers (datasheet 3.0, Table 3).
constexpr uint8_t kRegId = 0x00;
constexpr uint8_t kRegVersion = 0x01;
constexpr uint8_t kRegArbitration = 0x02;
constexpr uint8_t kRegRedirection = 0x10;  // entry n: low dword 10h + 2n, high dword 11h + 2n
constexpr int kIdShift = 24;
constexpr uint8_t kIdMask = 0x0f;  // IOAPICID and IOAPICARB bits 27:24

// Redirection table entry fields (datasheet 3.2.4).
constexpr uint64_t kVectorMask = 0xff;
constexpr int kDeliveryModeShift = 8;
constexpr uint64_t kDestLogical = 1u << 11;
constexpr uint64_t kRemoteIrr = 1u << 14;
constexpr uint64_t kLevelTriggered = 1u << 15;
constexpr uint64_t kMasked = 1u << 16;
constexpr int kDestinationShift = 56;
// Delivery Status (12) and Remote IRR (14) are read-only; 55:17 reserved.
constexpr uint32_t kLowWritable = 0x0001afff;
constexpr uint32_t kHighWritable = 0xff000000;

// Delivery modes (datasheet 3.2.4, bits 10:8).
enum DeliveryMode { kFixed = 0, kLowestPriority = 1, kSmi = 2, kNmi = 4, kInit = 5, kExtInt = 7 };

int delivery_mode(uint64_t e) {
  return static_cast<int>((e >> kDeliveryModeShift) & 7);
}

// Whether the entry behaves level-triggered. 3.2.4 on NMI mode: "NMI is
// treated as an edge triggered interrupt, even if it is programmed as a
// level triggered interrupt" (and its vector is ignored).
bool level_triggered(uint64_t e) {
  return (e & kLevelTriggered) && delivery_mode(e) != kNmi;
}

}  // namespace

Ioapic::Ioapic(ApicMessageSink& cpu, uint8_t id, WarnFn warn) : cpu_(cpu), warn_(std::move(warn)) {
  s_.id = id & kIdMask;
  for (auto& e : s_.redirection) e = kMasked;  // reset: every input masked (3.2.4 bit 16)
  inputs_.reserve(kPins);
  for (int pin = 0; pin < kPins; ++pin) inputs_.emplace_back(*this, pin);
}

IrqLine& Ioapic::irq(int pin) {
  if (pin < 0 || pin >= kPins)
    throw std::out_of_range("IOAPIC has no input " + std::to_string(pin));
  return inputs_[pin];
}

void Ioapic::restore(const State& s) {
  s_ = s;
  s_.id &= kIdMask;
}

// --- MMIO -------------------------------------------------------------------

void Ioapic::read(uint64_t offset, std::span<uint8_t> data) {
  uint64_t within = offset & 3;
  if (within + data.size() > 4) {
    warn(warn_, "IOAPIC: " + std::to_string(data.size()) + "-byte read at " + hex(offset) +
                    " crosses a dword; reads all-ones");
    store_le(data, ~uint64_t{0});
    return;
  }
  if (data.size() != 4) {
    warn(warn_, "IOAPIC: " + std::to_string(data.size()) + "-byte read at " + hex(offset) +
                    "; registers are dwords");
  }
  store_le(data, read_dword(offset - within) >> (8 * within));
}

void Ioapic::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 4 || (offset & 3) != 0) {
    warn(warn_, "IOAPIC: " + std::to_string(data.size()) + "-byte write at " + hex(offset) +
                    " is not an aligned dword; ignored");
    return;
  }
  write_dword(offset, static_cast<uint32_t>(load_le(data)));
}

uint32_t Ioapic::read_dword(uint64_t offset) const {
  if (offset == kIoRegSel) return s_.ioregsel;
  if (offset == kIoWin) return read_register(s_.ioregsel);
  return 0;
}

void Ioapic::write_dword(uint64_t offset, uint32_t value) {
  if (offset == kIoRegSel) {
    s_.ioregsel = static_cast<uint8_t>(value);  // bits 31:8 reserved
  } else if (offset == kIoWin) {
    write_register(s_.ioregsel, value);
  } else {
    warn(warn_,
         "IOAPIC: write of " + hex(value) + " to reserved offset " + hex(offset) + "; ignored");
  }
}

// --- Indirect registers ------------------------------------------------------

uint32_t Ioapic::read_register(uint8_t index) const {
  if (index == kRegId || index == kRegArbitration) return uint32_t{s_.id} << kIdShift;
  if (index == kRegVersion) return kVersion;
  int pin = (index - kRegRedirection) / 2;
  if (index < kRegRedirection || pin >= kPins) {
    warn(warn_, "IOAPIC: read of nonexistent register " + hex(index) + "; reads all-ones");
    return 0xffffffff;
  }
  uint64_t e = s_.redirection[pin];
  return static_cast<uint32_t>(index & 1 ? e >> 32 : e);
}

void Ioapic::write_register(uint8_t index, uint32_t value) {
  if (index == kRegId) {
    // The arbitration ID is loaded from the ID on every ID write (3.1.3).
    s_.id = static_cast<uint8_t>((value >> kIdShift) & kIdMask);
    return;
  }
  int pin = (index - kRegRedirection) / 2;
  if (index < kRegRedirection || pin >= kPins) {
    warn(warn_, "IOAPIC: write of " + hex(value) + " to read-only or nonexistent register " +
                    hex(index) + "; ignored");
    return;
  }
  write_redirection(pin, index & 1, value);
}

void Ioapic::write_redirection(int pin, bool high_half, uint32_t value) {
  uint64_t& e = s_.redirection[pin];
  if (high_half) {
    uint64_t hi = (e >> 32 & ~uint64_t{kHighWritable}) | (value & kHighWritable);
    e = (e & 0xffffffff) | hi << 32;
    return;
  }
  uint64_t lo = (e & ~uint64_t{kLowWritable}) | (value & kLowWritable);
  e = (e & ~uint64_t{0xffffffff}) | (lo & 0xffffffff);
  // Remote IRR is meaningless for edge inputs; switching clears it (as KVM does).
  if (!level_triggered(e)) e &= ~kRemoteIrr;
  deliver_if_pending(pin);
}

// --- Inputs and delivery ----------------------------------------------------

void Ioapic::set_input(int pin, bool level) {
  bool was = asserted(pin);
  s_.levels = level ? s_.levels | (1u << pin) : s_.levels & ~(1u << pin);
  uint64_t e = s_.redirection[pin];
  // 3.2.4 bit 16: edges on a masked input are lost; level changes on a
  // masked input have no side effects.
  if (e & kMasked) return;
  if (level_triggered(e)) {
    deliver_if_pending(pin);
  } else if (level && !was) {
    deliver(pin);
  }
}

// A level-triggered input that is asserted, unmasked and not already in
// service (Remote IRR clear) sends a message.
void Ioapic::deliver_if_pending(int pin) {
  uint64_t e = s_.redirection[pin];
  if (level_triggered(e) && !(e & (kMasked | kRemoteIrr)) && asserted(pin)) deliver(pin);
}

void Ioapic::deliver(int pin) {
  uint64_t& e = s_.redirection[pin];
  auto vector = static_cast<uint8_t>(e & kVectorMask);
  auto dest = static_cast<uint8_t>(e >> kDestinationShift);
  bool logical = (e & kDestLogical) != 0;
  bool level = level_triggered(e);
  int mode = delivery_mode(e);
  if (mode != kFixed && mode != kLowestPriority && mode != kNmi) {
    warn(warn_, "IOAPIC: input " + std::to_string(pin) + " uses delivery mode " +
                    std::to_string(mode) + " (SMI/INIT/ExtINT/reserved), not supported; dropped");
    return;
  }
  if (!cpu_.is_destination(dest, logical)) return;  // no APIC on the bus takes it
  if (mode == kNmi) {
    cpu_.accept_nmi();
    return;
  }
  if (cpu_.accept_interrupt(vector, level) && level) e |= kRemoteIrr;
}

void Ioapic::eoi(uint8_t vector) {
  for (int pin = 0; pin < kPins; ++pin) {
    uint64_t& e = s_.redirection[pin];
    if ((e & kVectorMask) != vector || !(e & kRemoteIrr)) continue;
    e &= ~kRemoteIrr;
    deliver_if_pending(pin);
  }
}

}  // namespace rrvm
