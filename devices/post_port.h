// The POST diagnostic port 0x80. Firmware and kernels write progress codes
// here (Linux also uses it as an I/O delay); a POST card latches the last
// byte and shows it. rrvm keeps that byte so a hung guest's last code can be
// reported, and reads return it, as the latch on many chipsets does.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "devices/io_device.h"

namespace rrvm {

// IoDevice: 1 port, map at 0x80. A wider access keeps its first byte (the one
// addressed to port 0x80); the other bytes read as all-ones.
class PostPort final : public IoDevice {
 public:
  struct State {
    uint8_t last = 0;
    uint64_t writes = 0;  // how many codes were written
  };

  // `on_code`, if set, sees every byte written (e.g. for a --trace-post log).
  explicit PostPort(std::function<void(uint8_t code)> on_code = {});

  std::string_view name() const override { return "post"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  uint8_t last_code() const { return s_.last; }
  uint64_t writes() const { return s_.writes; }

  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  std::function<void(uint8_t)> on_code_;
  State s_;
};

}  // namespace rrvm
