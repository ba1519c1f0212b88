// Where a character device's output goes (stdout, a file, a test buffer).
// Input travels the other way: the VMM calls the device's receive() at an
// exit, so console input is an ordinary recorded input.
#pragma once

#include <cstdint>
#include <string>

namespace rrvm {

class CharSink {
 public:
  virtual ~CharSink() = default;
  virtual void write(uint8_t byte) = 0;
};

class StringSink final : public CharSink {
 public:
  void write(uint8_t byte) override { text.push_back(static_cast<char>(byte)); }
  std::string text;
};

}  // namespace rrvm
