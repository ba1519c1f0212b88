// Guest physical memory as a device or loader sees it: bounds-checked copies,
// never a raw host pointer, so a guest-supplied DMA address cannot reach host
// memory outside guest RAM.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace rrvm {

class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  // False (and nothing copied) when [gpa, gpa + len) is not entirely RAM.
  virtual bool read(uint64_t gpa, std::span<uint8_t> out) const = 0;
  virtual bool write(uint64_t gpa, std::span<const uint8_t> in) = 0;
  // Bytes of RAM starting at physical 0 (one contiguous region below 4 GiB).
  virtual uint64_t size() const = 0;
};

// A flat vector-backed memory for unit tests and firmware builders.
class VectorMemory final : public GuestMemory {
 public:
  explicit VectorMemory(size_t size) : bytes_(size, 0) {}
  bool read(uint64_t gpa, std::span<uint8_t> out) const override {
    if (!contains(gpa, out.size())) return false;
    if (!out.empty()) std::memcpy(out.data(), bytes_.data() + gpa, out.size());
    return true;
  }
  bool write(uint64_t gpa, std::span<const uint8_t> in) override {
    if (!contains(gpa, in.size())) return false;
    if (!in.empty()) std::memcpy(bytes_.data() + gpa, in.data(), in.size());
    return true;
  }
  uint64_t size() const override { return bytes_.size(); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  bool contains(uint64_t gpa, uint64_t len) const {
    return gpa <= bytes_.size() && len <= bytes_.size() - gpa;
  }
  std::vector<uint8_t> bytes_;
};

}  // namespace rrvm
