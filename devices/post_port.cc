#include "devices/post_port.h"

namespace rrvm {

PostPort::PostPort(std::function<void(uint8_t code)> on_code) : on_code_(std::move(on_code)) {}

void PostPort::read(uint64_t offset, std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i == 0 ? s_.last : 0xff;
}

void PostPort::write(uint64_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (offset + i != 0) continue;
    s_.last = data[i];
    ++s_.writes;
    if (on_code_) on_code_(data[i]);
  }
}

}  // namespace rrvm
