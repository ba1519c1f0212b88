// Little-endian byte assembly and 8-bit checksums for firmware tables. Both
// the MP spec (1.4, 4.1 and 4.2: "all bytes ... must add up to zero") and
// ACPI (6.5, 5.2.5.3 / 5.2.6: the entire table, including the checksum
// field, must add to zero) use the same byte-sum checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace rrvm {

class ByteWriter {
 public:
  ByteWriter& u8(uint64_t v) {
    bytes_.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  ByteWriter& u16(uint64_t v) { return le(v, 2); }
  ByteWriter& u32(uint64_t v) { return le(v, 4); }
  ByteWriter& u64(uint64_t v) { return le(v, 8); }
  // `text` in exactly `width` bytes: cut or padded with `pad`.
  ByteWriter& text(std::string_view text, size_t width, char pad = ' ') {
    for (size_t i = 0; i < width; ++i) u8(static_cast<uint8_t>(i < text.size() ? text[i] : pad));
    return *this;
  }
  ByteWriter& bytes(std::span<const uint8_t> b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  ByteWriter& zeros(size_t n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  // Overwrite `width` bytes at `at` (which must already exist) little-endian.
  void patch(size_t at, uint64_t v, int width) {
    for (int i = 0; i < width; ++i) bytes_.at(at + i) = static_cast<uint8_t>(v >> (8 * i));
  }
  size_t size() const { return bytes_.size(); }
  std::span<const uint8_t> view() const { return bytes_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  ByteWriter& le(uint64_t v, int width) {
    for (int i = 0; i < width; ++i) u8(v >> (8 * i));
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

// Sum of all bytes modulo 256.
inline uint8_t byte_sum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return sum;
}

// Sets bytes[at] so that bytes[begin, end) sums to zero (at lies inside).
inline void set_checksum(std::vector<uint8_t>& bytes, size_t at, size_t begin, size_t end) {
  bytes.at(at) = 0;
  auto range = std::span<const uint8_t>(bytes).subspan(begin, end - begin);
  bytes[at] = static_cast<uint8_t>(0x100 - byte_sum(range));
}

}  // namespace rrvm
