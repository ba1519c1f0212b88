#include "devices/piix_isa.h"

#include <array>
#include <string>

namespace rrvm {
namespace {

// PIIX3 function 0 identity (datasheet 2.2.1-2.2.5).
PciConfig::Identity isa_bridge_identity() {
  PciConfig::Identity id;
  id.vendor = 0x8086;
  id.device = 0x7000;
  id.revision = 0x00;
  id.class_code = 0x060100;  // bridge, PCI-to-ISA
  id.header_type = 0x80;     // multi-function (IDE and USB are functions 1 and 2)
  return id;
}

// PIRQRC bits the guest can write: routing disable (7) and IRQ (3:0).
constexpr uint8_t kPirqWritable = 0x8f;
constexpr uint8_t kPirqIrqMask = 0x0f;

}  // namespace

PiixIsa::PiixIsa(WarnFn warn) : warn_(std::move(warn)), config_(isa_bridge_identity()) {
  for (int i = 0; i < kPirqs; ++i) {
    uint8_t off = static_cast<uint8_t>(kPirqRouteBase + i);
    config_.set8(off, kPirqDisabled);
    config_.set_writable(off, kPirqWritable);
  }
}

void PiixIsa::config_read(uint8_t offset, std::span<uint8_t> data) {
  config_.config_read(offset, data);
}

void PiixIsa::config_write(uint8_t offset, std::span<const uint8_t> data) {
  std::array<uint8_t, kPirqs> before{};
  for (int i = 0; i < kPirqs; ++i)
    before[i] = config_.read8(static_cast<uint8_t>(kPirqRouteBase + i));
  config_.config_write(offset, data);
  bool changed = false;
  for (int i = 0; i < kPirqs; ++i) {
    changed |= before[i] != config_.read8(static_cast<uint8_t>(kPirqRouteBase + i));
  }
  if (!changed) return;
  warn_reserved_routes();
  if (on_route_) on_route_();
}

std::optional<int> PiixIsa::pirq_route(int pirq) const {
  if (pirq < 0 || pirq >= kPirqs) return std::nullopt;
  uint8_t v = config_.read8(static_cast<uint8_t>(kPirqRouteBase + pirq));
  int irq = v & kPirqIrqMask;
  if ((v & kPirqDisabled) || reserved_irq(irq)) return std::nullopt;
  return irq;
}

// Datasheet 2.2.10: 0000b-0010b, 1000b and 1101b are reserved.
bool PiixIsa::reserved_irq(int irq) {
  return irq <= 2 || irq == 8 || irq == 13;
}

void PiixIsa::warn_reserved_routes() const {
  for (int i = 0; i < kPirqs; ++i) {
    uint8_t v = config_.read8(static_cast<uint8_t>(kPirqRouteBase + i));
    if (!(v & kPirqDisabled) && reserved_irq(v & kPirqIrqMask)) {
      warn(warn_, std::string("PIIX3: PIRQ") + char('A' + i) + " routed to reserved IRQ " +
                      std::to_string(v & kPirqIrqMask) + "; not connected");
    }
  }
}

}  // namespace rrvm
