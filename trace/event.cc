#include "trace/event.h"

#include <xxhash.h>

#include <cctype>
#include <cstdio>

namespace rrvm::trace {

namespace {

constexpr const char* kNames[kEventKinds] = {
    "port-read",     "mmio-read", "msr-read",   "dma-write",  "interrupt",  "clock-read", "packet",
    "console-input", "landmark",  "reg-digest", "mem-digest", "guest-exit", "note"};

// "Port-Read", "port_read", "portRead" -> "portread".
std::string fold(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '-' && c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

const char* kind_name(EventKind k) {
  auto i = static_cast<unsigned>(k);
  return i < kEventKinds ? kNames[i] : "unknown";
}

std::optional<EventKind> kind_from_name(std::string_view name) {
  std::string want = fold(name);
  for (int i = 0; i < kEventKinds; ++i) {
    if (fold(kNames[i]) == want) return static_cast<EventKind>(i);
  }
  return std::nullopt;
}

std::string content_hash(std::span<const uint8_t> bytes) {
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

}  // namespace rrvm::trace
