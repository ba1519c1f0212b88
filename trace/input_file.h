// Opening a file a user named as input (a trace, a guest image, a config
// or symbol file): one place that refuses what is not a regular file before
// reading a byte. A FIFO would block open() and read(), a directory or
// /dev/zero would be read forever: open() uses O_NONBLOCK, fstat() checks
// the type, and whole-file reads stop at a caller's limit. Shared by every
// input path of the CLI; in trace/ because the trace reader is the lowest
// library that needs it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rrvm::trace {

// A missing or unusable input file: does not exist, no permission, not a
// regular file (CLI exit 66).
class InputFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A regular file larger than the caller accepts (CLI exit 65 for images).
class InputTooLarge : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A regular file opened for reading; closes on destruction.
class InputFile {
 public:
  // Throws InputFileError naming `path` (and `what`, e.g. "kernel") when it
  // cannot be opened or is not a regular file.
  explicit InputFile(const std::string& path, const std::string& what = "");
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile();

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // as fstat saw it
  // Transfers ownership of the descriptor to the caller.
  int release();

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The whole of `path`, at most `limit` bytes: InputTooLarge when it holds
// more (checked against fstat first and again while reading, since files in
// /proc and /sys claim size 0), InputFileError when it cannot be read.
std::vector<uint8_t> read_input_file(const std::string& path, uint64_t limit,
                                     const std::string& what = "");

}  // namespace rrvm::trace
