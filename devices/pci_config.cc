#include "devices/pci_config.h"

#include <bit>
#include <stdexcept>
#include <string>

namespace rrvm {
namespace {

// Command register bits a simple function implements (PCI 3.0, 6.2.2): I/O
// Space, Memory Space, Bus Master, Parity Error Response, SERR# Enable,
// Interrupt Disable. The rest are hard-wired to 0.
constexpr uint16_t kCommandWritable = 0x0547;
// Status register (6.2.3): Master Data Parity Error (bit 8) and the error
// bits 15:11 are write-1-to-clear; everything else is read-only.
constexpr uint16_t kStatusW1c = 0xf900;

// BAR low bits (6.2.5.1): bit 0 = 1 for I/O; memory bits 2:1 = type
// (00 = 32-bit), bit 3 = prefetchable.
constexpr uint32_t kBarIoSpace = 0x1;
constexpr uint32_t kBarIoTypeMask = 0x3;
constexpr uint32_t kBarMemTypeMask = 0xf;
constexpr uint32_t kBarMemPrefetch = 0x8;

// Ranges a function can decode on a PC: 16-bit I/O ports; 32-bit memory,
// not touching the last byte below 4 GiB (which is what a BAR holding the
// sizing pattern ~(size-1) points at, so it never decodes mid-sizing).
constexpr uint64_t kIoLimit = 0xffff;
constexpr uint64_t kMemLimit = 0xfffffffe;

constexpr uint8_t kBarsEnd = PciConfig::kBar0 + 4 * PciConfig::kBarCount;

}  // namespace

PciConfig::PciConfig(const Identity& id) {
  set16(kVendorId, id.vendor);
  set16(kDeviceId, id.device);
  set8(kRevision, id.revision);
  set8(kClassCode, static_cast<uint8_t>(id.class_code));
  set16(kClassCode + 1, static_cast<uint16_t>(id.class_code >> 8));
  set8(kHeaderType, id.header_type);
  set16(kSubsystemVendor, id.subsystem_vendor);
  set16(kSubsystemId, id.subsystem);
  writable_[kCommand] = kCommandWritable & 0xff;
  writable_[kCommand + 1] = kCommandWritable >> 8;
  w1c_[kStatus + 1] = kStatusW1c >> 8;
  writable_[0x0c] = 0xff;  // Cache Line Size (6.2.4)
  writable_[0x0d] = 0xff;  // Latency Timer
  writable_[kInterruptLine] = 0xff;
}

void PciConfig::add_bar(int index, BarKind kind, uint32_t size, bool prefetchable) {
  uint32_t min_size = kind == BarKind::kIo ? 4 : 16;
  if (index < 0 || index >= kBarCount || kind == BarKind::kNone || !std::has_single_bit(size) ||
      size < min_size) {
    throw std::invalid_argument("PCI BAR " + std::to_string(index) + ": invalid kind or size " +
                                std::to_string(size));
  }
  bars_[index] = {kind, size};
  uint32_t type = kind == BarKind::kIo ? kBarIoSpace : (prefetchable ? kBarMemPrefetch : 0);
  uint32_t type_mask = kind == BarKind::kIo ? kBarIoTypeMask : kBarMemTypeMask;
  uint8_t off = static_cast<uint8_t>(kBar0 + 4 * index);
  set32(off, type);
  uint32_t mask = ~(size - 1) & ~type_mask;
  for (int i = 0; i < 4; ++i) writable_[off + i] = static_cast<uint8_t>(mask >> (8 * i));
}

void PciConfig::set_interrupt_pin(uint8_t pin) {
  if (pin > 4) throw std::invalid_argument("PCI interrupt pin must be 0-4");
  set8(kInterruptPin, pin);
}

void PciConfig::set_writable(uint8_t offset, uint8_t mask) {
  writable_[offset] = mask;
}

void PciConfig::set_write_1_to_clear(uint8_t offset, uint8_t mask) {
  w1c_[offset] = mask;
}

void PciConfig::config_read(uint8_t offset, std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    size_t at = size_t{offset} + i;
    data[i] = at < kSize ? s_.bytes[at] : 0xff;
  }
}

void PciConfig::config_write(uint8_t offset, std::span<const uint8_t> data) {
  bool intx_before = intx_output();
  for (size_t i = 0; i < data.size() && size_t{offset} + i < kSize; ++i) {
    size_t at = offset + i;
    uint8_t& b = s_.bytes[at];
    b = static_cast<uint8_t>((b & ~writable_[at]) | (data[i] & writable_[at]));
    b = static_cast<uint8_t>(b & ~(data[i] & w1c_[at]));
  }
  if (overlaps(offset, data.size(), kCommand, kCommand + 2) ||
      overlaps(offset, data.size(), kBar0, kBarsEnd)) {
    notify_bars(false);
  }
  drive_intx(intx_before);
}

uint16_t PciConfig::read16(uint8_t offset) const {
  return static_cast<uint16_t>(read8(offset) | read8(static_cast<uint8_t>(offset + 1)) << 8);
}

uint32_t PciConfig::read32(uint8_t offset) const {
  return read16(offset) | uint32_t{read16(static_cast<uint8_t>(offset + 2))} << 16;
}

void PciConfig::set16(uint8_t offset, uint16_t v) {
  set8(offset, static_cast<uint8_t>(v));
  set8(static_cast<uint8_t>(offset + 1), static_cast<uint8_t>(v >> 8));
}

void PciConfig::set32(uint8_t offset, uint32_t v) {
  set16(offset, static_cast<uint16_t>(v));
  set16(static_cast<uint8_t>(offset + 2), static_cast<uint16_t>(v >> 16));
}

PciConfig::BarKind PciConfig::bar_kind(int bar) const {
  return bar >= 0 && bar < kBarCount ? bars_[bar].kind : BarKind::kNone;
}

uint32_t PciConfig::bar_size(int bar) const {
  return bar >= 0 && bar < kBarCount ? bars_[bar].size : 0;
}

uint64_t PciConfig::bar_base(int bar) const {
  BarKind kind = bar_kind(bar);
  if (kind == BarKind::kNone) return 0;
  uint32_t raw = read32(static_cast<uint8_t>(kBar0 + 4 * bar));
  return raw & ~(kind == BarKind::kIo ? kBarIoTypeMask : kBarMemTypeMask);
}

bool PciConfig::bar_enabled(int bar) const {
  return decode(bar).enabled;
}

PciConfig::Decode PciConfig::decode(int bar) const {
  BarKind kind = bar_kind(bar);
  if (kind == BarKind::kNone) return {};
  uint64_t base = bar_base(bar);
  bool io = kind == BarKind::kIo;
  bool on = (command() & (io ? kCmdIo : kCmdMemory)) != 0;
  uint64_t last = base + bars_[bar].size - 1;
  bool fits = base != 0 && last <= (io ? kIoLimit : kMemLimit);
  return {base, on && fits};
}

void PciConfig::notify_bars(bool all) {
  for (int i = 0; i < kBarCount; ++i) {
    if (bars_[i].kind == BarKind::kNone) continue;
    Decode now = decode(i);
    if (!all && now == reported_[i]) continue;
    reported_[i] = now;
    if (observer_) observer_(i, now.base, now.enabled);
  }
}

bool PciConfig::intx_output() const {
  return s_.intx && (command() & kCmdIntxDisable) == 0;
}

void PciConfig::drive_intx(bool before) {
  bool now = intx_output();
  if (now != before && intx_line_) intx_line_->set_level(now);
}

void PciConfig::set_intx(bool asserted) {
  bool before = intx_output();
  s_.intx = asserted;
  uint16_t status = read16(kStatus);
  set16(kStatus,
        static_cast<uint16_t>(asserted ? status | kStsInterrupt : status & ~kStsInterrupt));
  drive_intx(before);
}

void PciConfig::restore(const State& s) {
  s_ = s;
  notify_bars(true);
}

bool PciConfig::overlaps(uint8_t offset, size_t len, uint8_t first, uint8_t end) {
  return offset < end && size_t{offset} + len > first;
}

}  // namespace rrvm
