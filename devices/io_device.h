// The one trap signature every device implements, for port I/O and MMIO alike
// (kvmtool's mmio.c / Firecracker's BusDevice). Devices only ever see offsets
// relative to the start of the range they are mapped at; placement lives in
// vmm/ (the machine assembly), never in a device.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace rrvm {

class IoDevice {
 public:
  virtual ~IoDevice() = default;

  // Short, stable name used in diagnostics and traces ("pic-master", "uart0").
  virtual std::string_view name() const = 0;

  // data.size() is the access width (1, 2, 4 or 8). A read must fill all of
  // data; a device that has nothing to say reads as all-ones like an
  // unterminated ISA bus.
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;

  // The datasheet's name of the register at `offset` ("TCTR"), for reports
  // that put a guest's access into words; empty when the device has none.
  virtual std::string register_name(uint64_t offset) const {
    (void)offset;
    return {};
  }
};

// Little-endian helpers for devices whose registers are wider than a byte.
inline uint64_t load_le(std::span<const uint8_t> data) {
  uint64_t v = 0;
  for (size_t i = 0; i < data.size() && i < 8; ++i) v |= uint64_t{data[i]} << (8 * i);
  return v;
}
inline void store_le(std::span<uint8_t> data, uint64_t v) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = i < 8 ? uint8_t(v >> (8 * i)) : 0xff;
}

}  // namespace rrvm
