// Guest time from the host's monotonic clock, zero at machine start.
#pragma once

#include "devices/clock.h"
#include "vmm/kicker.h"

namespace rrvm {

class HostClock final : public Clock {
 public:
  HostClock() : start_(Kicker::monotonic_ns()) {}
  uint64_t now_ns() override { return Kicker::monotonic_ns() - start_; }
  // The host CLOCK_MONOTONIC time at which guest time reaches `guest_ns`.
  uint64_t host_time(uint64_t guest_ns) const { return start_ + guest_ns; }

 private:
  uint64_t start_;
};

}  // namespace rrvm
