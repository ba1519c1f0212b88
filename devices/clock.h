// Guest-visible time. Devices never read a host clock: the VMM injects a Clock,
// and the record/replay engine decides where its values come from (host time
// logged in the trace, the trace itself on replay, or virtual time).
#pragma once

#include <cstdint>

namespace rrvm {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic nanoseconds since machine power-on. Never goes backwards.
  virtual uint64_t now_ns() = 0;
};

// A clock that moves only when told to: for unit tests and virtual time.
class ManualClock final : public Clock {
 public:
  uint64_t now_ns() override { return now_; }
  void set(uint64_t ns) { now_ = ns > now_ ? ns : now_; }
  void advance(uint64_t ns) { now_ += ns; }

 private:
  uint64_t now_ = 0;
};

// Converts elapsed nanoseconds into ticks of a clock of `hz`, without
// overflow for any run shorter than centuries (128-bit intermediate).
inline uint64_t ns_to_ticks(uint64_t ns, uint64_t hz) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(ns) * hz) / 1'000'000'000u);
}
// The first nanosecond at which `ticks` ticks of a `hz` clock have elapsed.
inline uint64_t ticks_to_ns(uint64_t ticks, uint64_t hz) {
  return static_cast<uint64_t>(
      (static_cast<unsigned __int128>(ticks) * 1'000'000'000u + hz - 1) / hz);
}

}  // namespace rrvm
