#include "trace/byte_source.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "trace/event.h"
#include "trace/input_file.h"

namespace rrvm::trace {

ByteSource ByteSource::open_file(const std::string& path) {
  ByteSource s;
  try {
    InputFile f(path);
    s.size_ = f.size();
    s.fd_ = f.release();
  } catch (const InputFileError& e) {
    throw TraceMissing(e.what());
  }
  return s;
}

ByteSource::ByteSource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {
  size_ = bytes_.size();
}

ByteSource::ByteSource(ByteSource&& o) noexcept
    : fd_(o.fd_), bytes_(std::move(o.bytes_)), size_(o.size_) {
  o.fd_ = -1;
}

ByteSource::~ByteSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<uint8_t> ByteSource::read(uint64_t offset, size_t n) const {
  if (offset >= size_) return {};
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
  if (fd_ < 0) {
    auto from = bytes_.begin() + static_cast<ptrdiff_t>(offset);
    return std::vector<uint8_t>(from, from + static_cast<ptrdiff_t>(n));
  }
  std::vector<uint8_t> out(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd_, out.data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw TraceError(std::string("read failed: ") + std::strerror(errno), offset + got);
    if (r == 0) break;  // the file shrank under us: what is left is a truncated trace
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

}  // namespace rrvm::trace
