#include "firmware/image_io.h"

#include <algorithm>

#include "devices/hex.h"
#include "firmware/load_error.h"

namespace rrvm {

namespace {
constexpr uint64_t kZeroChunk = 64 * 1024;
}  // namespace

uint64_t ImageReader::le(uint64_t off, unsigned len, const char* field) const {
  if (!has(off, len)) truncated(off, len, field);
  uint64_t v = 0;
  for (unsigned i = 0; i < len; ++i) v |= uint64_t{b_[off + i]} << (8 * i);
  return v;
}

std::span<const uint8_t> ImageReader::bytes(uint64_t off, uint64_t len,
                                            const std::string& field) const {
  if (!has(off, len)) truncated(off, len, field);
  return b_.subspan(off, len);
}

std::string ImageReader::cstring(uint64_t off, uint64_t limit, const std::string& field) const {
  limit = std::min<uint64_t>(limit, b_.size());
  for (uint64_t end = off; end < limit; ++end) {
    if (b_[end] == 0) return std::string(b_.begin() + off, b_.begin() + end);
  }
  throw ImageError(format_ + " " + field + " at offset " + hex(off) +
                   " is not NUL-terminated within its table (which ends at " + hex(limit) + ")");
}

void ImageReader::truncated(uint64_t off, uint64_t len, const std::string& field) const {
  throw ImageError(format_ + " image truncated: " + field + " (" + std::to_string(len) +
                   " bytes at offset " + hex(off) + ") lies past the end of the " +
                   std::to_string(b_.size()) + "-byte file");
}

uint64_t checked_add(uint64_t a, uint64_t b, const std::string& what) {
  if (b > UINT64_MAX - a)
    throw ImageError(what + " overflows: " + hex(a) + " + " + hex(b) + " wraps around 2^64");
  return a + b;
}

uint64_t checked_align_up(uint64_t v, uint64_t align, const std::string& what) {
  return checked_add(v, align - 1, what) & ~(align - 1);
}

void write_guest(GuestMemory& mem, uint64_t addr, std::span<const uint8_t> bytes,
                 const std::string& what) {
  if (!mem.write(addr, bytes)) {
    throw ImageError(what + " at physical " + hex(addr) + " (" + std::to_string(bytes.size()) +
                     " bytes) does not fit in guest RAM (" + std::to_string(mem.size() >> 20) +
                     " MiB)");
  }
}

void zero_guest(GuestMemory& mem, uint64_t addr, uint64_t len, const std::string& what) {
  // Fail before writing anything when the range obviously leaves RAM.
  uint8_t probe = 0;
  uint64_t last = len ? checked_add(addr, len - 1, what) : addr;
  if (len && (!mem.read(addr, {&probe, 1}) || !mem.read(last, {&probe, 1}))) {
    throw ImageError(what + " at physical " + hex(addr) + " (" + std::to_string(len) +
                     " bytes) does not fit in guest RAM (" + std::to_string(mem.size() >> 20) +
                     " MiB)");
  }
  std::vector<uint8_t> zeros(std::min(len, kZeroChunk), 0);
  for (uint64_t done = 0; done < len;) {
    uint64_t n = std::min(len - done, kZeroChunk);
    write_guest(mem, addr + done, std::span<const uint8_t>(zeros).first(n), what);
    done += n;
  }
}

void put_le(std::vector<uint8_t>& buf, size_t off, uint64_t v, unsigned len) {
  if (buf.size() < off + len) buf.resize(off + len, 0);
  for (unsigned i = 0; i < len; ++i) buf[off + i] = uint8_t(v >> (8 * i));
}

uint64_t peek_guest(const GuestMemory& mem, uint64_t addr, unsigned len) {
  uint8_t b[8] = {};
  if (len > 8 || !mem.read(addr, std::span<uint8_t>(b, len))) return 0;
  uint64_t v = 0;
  for (unsigned i = 0; i < len; ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

}  // namespace rrvm
