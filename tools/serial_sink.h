// Where COM1 output goes for --serial stdio|file:PATH|none.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "devices/char_backend.h"
#include "vmm/machine_config.h"

namespace rrvm::cli {

// Writes to a stdio stream; flushes at each newline so interleaving with
// rrvm's own stderr messages stays readable.
class StreamSink final : public CharSink {
 public:
  StreamSink(std::FILE* f, bool owned) : f_(f), owned_(owned) {}
  ~StreamSink() override;
  void write(uint8_t byte) override;

 private:
  std::FILE* f_;
  bool owned_;
};

class NullSink final : public CharSink {
 public:
  void write(uint8_t) override {}
};

// Throws OutputError when a file: target cannot be created.
std::unique_ptr<CharSink> open_serial(const SerialConfig& serial);

}  // namespace rrvm::cli
