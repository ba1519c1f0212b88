// Where device warnings (devices/warn.h) go: stderr, prefixed with the
// device's name, at most kLimit lines per device so a guest hammering a
// reserved register cannot flood the terminal.
#pragma once

#include <iostream>
#include <map>
#include <string>

#include "devices/warn.h"

namespace rrvm {

class DeviceWarnings {
 public:
  static constexpr int kLimit = 10;

  explicit DeviceWarnings(std::ostream& out = std::cerr) : out_(out) {}

  // A WarnFn for `device`; valid while this object lives.
  WarnFn sink(const std::string& device) {
    return [this, device](const std::string& message) { emit(device, message); };
  }
  int count(const std::string& device) const {
    auto it = counts_.find(device);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  void emit(const std::string& device, const std::string& message) {
    int n = ++counts_[device];
    if (n <= kLimit) out_ << "rrvm: warning: " << device << ": " << message << "\n";
    if (n == kLimit) out_ << "rrvm: warning: " << device << ": further warnings suppressed\n";
  }

  std::ostream& out_;
  std::map<std::string, int> counts_;
};

}  // namespace rrvm
