#include "devices/debug_exit.h"

#include <algorithm>

namespace rrvm {
namespace {

// QEMU's device is valid for 1- to 4-byte accesses (debug_exit_ops); an
// 8-byte access cannot come from port I/O, and only its low 4 bytes count.
constexpr size_t kMaxWidth = 4;

}  // namespace

DebugExit::DebugExit(std::function<void(int status)> on_exit) : on_exit_(std::move(on_exit)) {}

int DebugExit::status_for(uint64_t value) {
  uint32_t v = static_cast<uint32_t>(value);
  return static_cast<int>(static_cast<uint32_t>(v << 1) | 1u);
}

void DebugExit::read(uint64_t, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), uint8_t{0});  // debug_exit_read returns 0
}

void DebugExit::write(uint64_t, std::span<const uint8_t> data) {
  if (data.empty()) return;
  uint64_t value = load_le(data.first(std::min(data.size(), kMaxWidth)));
  s_.requested = true;
  s_.status = status_for(value);
  if (on_exit_) on_exit_(s_.status);
}

}  // namespace rrvm
