#include "devices/pci_irq_router.h"

#include <stdexcept>
#include <string>

namespace rrvm {
namespace {

constexpr int kPins = 4;  // INTA#-INTD#

}  // namespace

PciIrqRouter::PciIrqRouter(PiixIsa& isa, const std::array<IrqLine*, kPicIrqs>& pic,
                           const std::array<IrqLine*, PiixIsa::kPirqs>& apic)
    : isa_(isa), pic_(pic), apic_(apic) {
  inputs_.reserve(kSlots * kPins);
  for (int slot = 0; slot < kSlots; ++slot) {
    for (int pin = 1; pin <= kPins; ++pin) inputs_.emplace_back(*this, slot, pin);
  }
  isa_.set_route_observer([this] { update(); });
}

IrqLine& PciIrqRouter::intx(int slot, int pin) {
  if (slot < 0 || slot >= kSlots || pin < 1 || pin > kPins) {
    throw std::out_of_range("PCI INTx: slot " + std::to_string(slot) + " pin " +
                            std::to_string(pin) + " does not exist");
  }
  return inputs_[slot * kPins + (pin - 1)];
}

bool PciIrqRouter::pirq_level(int pirq) const {
  for (int slot = 0; slot < kSlots; ++slot) {
    for (int pin = 1; pin <= kPins; ++pin) {
      if ((s_.asserted[slot] >> (pin - 1) & 1) && pirq_for(slot, pin) == pirq) return true;
    }
  }
  return false;
}

void PciIrqRouter::set_intx(int slot, int pin, bool level) {
  uint8_t bit = static_cast<uint8_t>(1u << (pin - 1));
  uint8_t& a = s_.asserted[slot];
  a = static_cast<uint8_t>(level ? a | bit : a & ~bit);
  update();
}

void PciIrqRouter::update() {
  uint8_t apic_levels = 0;
  uint16_t pic_levels = 0;
  for (int p = 0; p < PiixIsa::kPirqs; ++p) {
    if (!pirq_level(p)) continue;
    apic_levels = static_cast<uint8_t>(apic_levels | 1u << p);
    if (auto irq = isa_.pirq_route(p)) pic_levels = static_cast<uint16_t>(pic_levels | 1u << *irq);
  }
  drive_changes(std::span<IrqLine* const>(apic_), s_.apic_driven, apic_levels);
  drive_changes(std::span<IrqLine* const>(pic_), s_.pic_driven, pic_levels);
}

// Only changes reach the controllers, so an IRQ the router never asserted
// is never touched (an ISA device may own it). Whole-mask arithmetic on
// purpose: a per-bit `bool&` version of this loop is miscompiled by GCC 12.2
// at -O2 (the level comparison is dropped).
template <typename Bits>
void PciIrqRouter::drive_changes(std::span<IrqLine* const> lines, Bits& driven, Bits levels) {
  auto changed = static_cast<unsigned>(driven ^ levels);
  driven = levels;
  for (size_t i = 0; i < lines.size(); ++i) {
    if ((changed >> i & 1u) != 0 && lines[i] != nullptr)
      lines[i]->set_level((levels >> i & 1u) != 0);
  }
}

}  // namespace rrvm
