#include "tools/serial_sink.h"

#include <cerrno>
#include <cstring>

#include "tools/error_policy.h"

namespace rrvm::cli {

StreamSink::~StreamSink() {
  std::fflush(f_);
  if (owned_) std::fclose(f_);
}

void StreamSink::write(uint8_t byte) {
  std::fputc(byte, f_);
  if (byte == '\n') std::fflush(f_);
}

std::unique_ptr<CharSink> open_serial(const SerialConfig& serial) {
  switch (serial.kind) {
    case SerialKind::kNone:
      return std::make_unique<NullSink>();
    case SerialKind::kStdio:
      return std::make_unique<StreamSink>(stdout, false);
    case SerialKind::kFile:
      break;
  }
  std::FILE* f = std::fopen(serial.path.c_str(), "wb");
  if (!f) {
    throw OutputError("cannot create serial output " + serial.path + ": " + std::strerror(errno));
  }
  return std::make_unique<StreamSink>(f, true);
}

}  // namespace rrvm::cli
