#include "trace/event.h"

#include <xxhash.h>

#include <cstdio>

namespace rrvm::trace {

namespace {
constexpr const char* kNames[kEventKinds] = {
    "port-read",     "mmio-read", "msr-read",   "dma-write",  "interrupt",  "clock-read", "packet",
    "console-input", "landmark",  "reg-digest", "mem-digest", "guest-exit", "note"};
}

const char* kind_name(EventKind k) {
  auto i = static_cast<unsigned>(k);
  return i < kEventKinds ? kNames[i] : "unknown";
}

std::optional<EventKind> kind_from_name(const std::string& name) {
  for (int i = 0; i < kEventKinds; ++i) {
    if (name == kNames[i]) return static_cast<EventKind>(i);
  }
  return std::nullopt;
}

std::string content_hash(const std::vector<uint8_t>& bytes) {
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

}  // namespace rrvm::trace
