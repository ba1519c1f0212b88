// "0x1f" formatting for messages.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace rrvm {

inline std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

}  // namespace rrvm
