// Random access to the bytes of a trace: a file read with pread (a trace can
// be far larger than memory; the reader only ever holds one frame), or a
// buffer (tests, fuzzing). Internal to trace/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rrvm::trace {

class ByteSource {
 public:
  // Throws TraceMissing when the file cannot be opened.
  static ByteSource open_file(const std::string& path);
  explicit ByteSource(std::vector<uint8_t> bytes);
  ByteSource(ByteSource&& other) noexcept;
  ByteSource& operator=(ByteSource&&) = delete;
  ByteSource(const ByteSource&) = delete;
  ~ByteSource();

  uint64_t size() const { return size_; }
  // Up to `n` bytes at `offset`; fewer at the end. Throws TraceError on an
  // I/O error.
  std::vector<uint8_t> read(uint64_t offset, size_t n) const;

 private:
  ByteSource() = default;
  int fd_ = -1;
  std::vector<uint8_t> bytes_;
  uint64_t size_ = 0;
};

}  // namespace rrvm::trace
