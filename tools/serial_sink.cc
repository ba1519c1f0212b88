#include "tools/serial_sink.h"

#include <cerrno>
#include <cstring>

#include "tools/machine_options.h"

namespace rrvm::cli {

StreamSink::~StreamSink() {
  std::fflush(f_);
  if (owned_) std::fclose(f_);
}

void StreamSink::write(uint8_t byte) {
  std::fputc(byte, f_);
  if (byte == '\n') std::fflush(f_);
}

std::unique_ptr<CharSink> open_serial(const std::string& spec) {
  if (spec == "none") return std::make_unique<NullSink>();
  if (spec == "stdio") return std::make_unique<StreamSink>(stdout, false);
  std::string path = spec.substr(5);  // "file:" checked by apply_machine_options
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw InputError("cannot open serial output " + path + ": " + std::strerror(errno));
  return std::make_unique<StreamSink>(f, true);
}

}  // namespace rrvm::cli
