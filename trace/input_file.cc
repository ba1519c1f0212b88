#include "trace/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rrvm::trace {

namespace {

// "/tmp/k.elf (kernel)"
std::string named(const std::string& path, const std::string& what) {
  return what.empty() ? path : path + " (" + what + ")";
}

const char* type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string human(uint64_t bytes) {
  if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

InputFile::InputFile(const std::string& path, const std::string& what) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd_ < 0)
    throw InputFileError("cannot read " + named(path, what) + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    int err = errno;
    ::close(fd_);
    throw InputFileError("cannot read " + named(path, what) + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw InputFileError("cannot read " + named(path, what) + ": " + type_name(st.st_mode) +
                         ", not a regular file");
  }
  // Regular files ignore O_NONBLOCK; clear it anyway so reads never see EAGAIN.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::InputFile(InputFile&& o) noexcept : fd_(o.fd_), size_(o.size_) {
  o.fd_ = -1;
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

int InputFile::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

std::vector<uint8_t> read_input_file(const std::string& path, uint64_t limit,
                                     const std::string& what) {
  InputFile f(path, what);
  auto too_large = [&] {
    return InputTooLarge(named(path, what) + " is larger than " + human(limit));
  };
  if (f.size() > limit) throw too_large();
  std::vector<uint8_t> out(static_cast<size_t>(f.size()));
  size_t got = 0;
  for (;;) {
    // One byte past the limit tells a file that grew (or lied about its
    // size, as /proc files do) from one that ends exactly there.
    if (got == out.size()) {
      if (out.size() > limit) throw too_large();
      uint64_t cap = limit == UINT64_MAX ? limit : limit + 1;
      out.resize(static_cast<size_t>(std::min<uint64_t>(cap, out.size() * 2 + 4096)));
    }
    ssize_t n = ::read(f.fd(), out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw InputFileError("error reading " + named(path, what) + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > limit) throw too_large();
  out.resize(got);
  return out;
}

}  // namespace rrvm::trace
