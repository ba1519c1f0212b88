// LEB128 varints and zigzag, the number encoding of the chunk columns
// (trace.capnp, Chunk). Internal to trace/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trace/event.h"

namespace rrvm::trace {

inline void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

// Maps a signed difference (computed modulo 2^64) to a small unsigned number.
inline uint64_t zigzag(uint64_t diff) {
  return (diff << 1) ^ (0 - (diff >> 63));
}
inline uint64_t unzigzag(uint64_t z) {
  return (z >> 1) ^ (0 - (z & 1));
}

inline void put_u64le(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Bounds-checked reading of one column; every overrun is a TraceError naming
// the frame's file offset and the column.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, uint64_t offset, const char* column)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()), offset_(offset), column_(column) {}

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) {
        if (shift == 63 && b > 1) break;  // more than 64 bits
        return v;
      }
    }
    throw TraceError(std::string("chunk column ") + column_ + ": number longer than 64 bits",
                     offset_);
  }
  uint8_t byte() {
    if (p_ == end_)
      throw TraceError(std::string("chunk column ") + column_ + " ends early", offset_);
    return *p_++;
  }
  uint64_t u64le() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{byte()} << (8 * i);
    return v;
  }
  // `n` bytes, checked against what is left (n comes from the file).
  std::span<const uint8_t> bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_))
      throw TraceError(std::string("chunk column ") + column_ + " ends early", offset_);
    std::span<const uint8_t> out(p_, static_cast<size_t>(n));
    p_ += n;
    return out;
  }
  bool done() const { return p_ == end_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t offset_;
  const char* column_;
};

}  // namespace rrvm::trace
