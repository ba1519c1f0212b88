// An interrupt request line from a device to an interrupt controller input.
#pragma once

#include <functional>

namespace rrvm {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  // Level of the wire. Edge-triggered inputs latch on the low->high change.
  virtual void set_level(bool high) = 0;
  // An edge: raise then lower (what an ISA device does for an edge IRQ).
  void pulse() {
    set_level(true);
    set_level(false);
  }
};

// Adapts any callable; used by the machine wiring and by tests.
class FunctionIrqLine final : public IrqLine {
 public:
  explicit FunctionIrqLine(std::function<void(bool)> fn) : fn_(std::move(fn)) {}
  void set_level(bool high) override { fn_(high); }

 private:
  std::function<void(bool)> fn_;
};

// Records the level for unit tests and counts rising edges.
class TestIrqLine final : public IrqLine {
 public:
  void set_level(bool high) override {
    if (high && !level) ++rising_edges;
    level = high;
  }
  bool level = false;
  int rising_edges = 0;
};

}  // namespace rrvm
