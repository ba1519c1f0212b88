// Bounds-checked access to untrusted image bytes and to guest memory, shared
// by the loaders. Every length and offset taken from an image goes through
// here, so a malformed image is an ImageError naming the field, never a read
// outside the buffer, an overflowed address or an unbounded allocation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "devices/guest_memory.h"

namespace rrvm {

// Little-endian reads from an image. `format` names the image kind in
// messages ("ELF", "bzImage", "Multiboot").
class ImageReader {
 public:
  ImageReader(std::span<const uint8_t> bytes, std::string format)
      : b_(bytes), format_(std::move(format)) {}

  uint64_t size() const { return b_.size(); }
  bool has(uint64_t off, uint64_t len) const { return off <= b_.size() && len <= b_.size() - off; }
  uint8_t u8(uint64_t off, const char* field) const { return uint8_t(le(off, 1, field)); }
  uint16_t u16(uint64_t off, const char* field) const { return uint16_t(le(off, 2, field)); }
  uint32_t u32(uint64_t off, const char* field) const { return uint32_t(le(off, 4, field)); }
  uint64_t u64(uint64_t off, const char* field) const { return le(off, 8, field); }
  // A 4- or 8-byte field (ELF32 vs ELF64 words).
  uint64_t word(uint64_t off, bool wide, const char* field) const {
    return le(off, wide ? 8 : 4, field);
  }
  // [off, off + len) of the image; ImageError naming `field` when outside it.
  std::span<const uint8_t> bytes(uint64_t off, uint64_t len, const std::string& field) const;
  // The NUL-terminated string at `off`, which must end before `limit`.
  std::string cstring(uint64_t off, uint64_t limit, const std::string& field) const;
  [[noreturn]] void truncated(uint64_t off, uint64_t len, const std::string& field) const;

 private:
  uint64_t le(uint64_t off, unsigned len, const char* field) const;
  std::span<const uint8_t> b_;
  std::string format_;
};

// a + b, or ImageError("<what> overflows ...") when it wraps around 2^64.
uint64_t checked_add(uint64_t a, uint64_t b, const std::string& what);
// v rounded up to a multiple of `align` (a power of two), checked like checked_add.
uint64_t checked_align_up(uint64_t v, uint64_t align, const std::string& what);

// Copies `bytes` to guest physical `addr`; ImageError naming `what` when the
// range is not entirely RAM.
void write_guest(GuestMemory& mem, uint64_t addr, std::span<const uint8_t> bytes,
                 const std::string& what);
// Zeroes [addr, addr + len) in bounded chunks (a bss size from an image never
// becomes one huge host allocation).
void zero_guest(GuestMemory& mem, uint64_t addr, uint64_t len, const std::string& what);

// Little-endian stores into a structure being built on the host.
void put_le(std::vector<uint8_t>& buf, size_t off, uint64_t v, unsigned len);
inline void put32(std::vector<uint8_t>& buf, size_t off, uint32_t v) {
  put_le(buf, off, v, 4);
}
inline void put64(std::vector<uint8_t>& buf, size_t off, uint64_t v) {
  put_le(buf, off, v, 8);
}

// Reads a little-endian value back from guest memory (0 when outside RAM);
// for tests and diagnostics.
uint64_t peek_guest(const GuestMemory& mem, uint64_t addr, unsigned len);

}  // namespace rrvm
