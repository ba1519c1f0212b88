// QEMU's isa-debug-exit device: a guest ends the run by writing a value; the
// exit status is (value << 1) | 1, so a guest can never report plain success
// (0) and QEMU's own failure (1) stays distinguishable.
//
// Reference: QEMU hw/misc/debugexit.c. There the device is 2 ports wide by
// default (iosize = 2), accepts 1- to 4-byte writes and uses the whole
// little-endian value, and reads return 0. This model does the same.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "devices/io_device.h"

namespace rrvm {

// IoDevice: 2 ports, map at 0xF4 (on QEMU: -device
// isa-debug-exit,iobase=0xf4,iosize=0x02). Every offset behaves the same.
class DebugExit final : public IoDevice {
 public:
  // Plain fields rather than std::optional: a disengaged optional leaves
  // bytes indeterminate, and checkpoints compare States as bytes.
  struct State {
    bool requested = false;  // an exit was requested
    int status = 0;          // the last one's status
  };

  // `on_exit` is called once per write with the exit status; the VMM stops
  // the run there (it is a request, the device keeps working if called again).
  explicit DebugExit(std::function<void(int status)> on_exit);

  std::string_view name() const override { return "isa-debug-exit"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Status a write of `value` requests: (value << 1) | 1 over the low 32 bits
  // QEMU accepts, as an int the way QEMU passes it to exit().
  static int status_for(uint64_t value);

  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  std::function<void(int)> on_exit_;
  State s_;
};

}  // namespace rrvm
