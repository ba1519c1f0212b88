#include "devices/interrupt_arbiter.h"

namespace rrvm {

bool InterruptArbiter::pic_connected() const {
  return !lapic_.software_enabled() || lapic_.lint0_extint();
}

InterruptArbiter::Source InterruptArbiter::pending_source() const {
  if (lapic_.has_interrupt()) return Source::kLapic;
  if (pic_connected() && pic_.has_interrupt()) return Source::kPic;
  return Source::kNone;
}

std::optional<uint8_t> InterruptArbiter::acknowledge() {
  switch (pending_source()) {
    case Source::kLapic:
      return lapic_.acknowledge();
    case Source::kPic:
      return pic_.acknowledge();
    case Source::kNone:
      break;
  }
  return std::nullopt;
}

}  // namespace rrvm
