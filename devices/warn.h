// Diagnostics from a device model: a guest doing something a real chip would
// ignore or answer with all-ones (a reserved register, an unaligned access)
// gets that hardware-like behaviour, and the device says so through this
// callback. The VMM decides what a warning becomes (a log line, rate-limited;
// a counter); devices never print.
#pragma once

#include <functional>
#include <string>

namespace rrvm {

using WarnFn = std::function<void(const std::string& message)>;

// Calls `fn` if one was given.
inline void warn(const WarnFn& fn, const std::string& message) {
  if (fn) fn(message);
}

}  // namespace rrvm
