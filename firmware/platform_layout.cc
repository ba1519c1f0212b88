#include "firmware/platform_layout.h"

#include <algorithm>

namespace rrvm {

namespace {

// PCI identities of the fixed functions (PLATFORM.md; issue 5).
constexpr uint8_t kHostBridgeSlot = 0;  // 8086:1237, no interrupt pin
constexpr uint8_t kIsaBridgeSlot = 1;   // 8086:7000 PIIX3, no interrupt pin

std::array<uint8_t, 16> pc_isa_irq_map() {
  std::array<uint8_t, 16> map{};
  for (int irq = 0; irq < 16; ++irq) map[irq] = static_cast<uint8_t>(irq);
  map[0] = 2;                       // PIT on INTIN2 (MADT override IRQ0 -> GSI 2)
  map[2] = PlatformLayout::kNoPin;  // the 8259 cascade, no IOAPIC input
  return map;
}

// Interrupt pin 1-4 (INTA#-INTD#) -> 0-3; any other value wraps (never UB).
int pin_index(int pin) {
  return ((pin - 1) % 4 + 4) % 4;
}

}  // namespace

PlatformLayout default_layout(bool with_nic, bool with_hpet) {
  PlatformLayout layout;
  layout.hpet = with_hpet;
  layout.isa_irq_to_pin = pc_isa_irq_map();
  layout.pci_devices.push_back({0, kHostBridgeSlot, 0, 0, "host-bridge"});
  layout.pci_devices.push_back({0, kIsaBridgeSlot, 0, 0, "piix3-isa"});
  if (with_nic) layout.pci_devices.push_back({0, kNicSlot, 0, 1, "rtl8139"});
  return layout;
}

int pirq_for(int slot, int pin) {
  return ((slot & 31) + 3 + pin_index(pin)) % 4;
}

uint8_t ioapic_pin_for(const PlatformLayout& layout, int slot, int pin) {
  return layout.pirq_to_pin[pirq_for(slot, pin)];
}

uint8_t pic_irq_for(const PlatformLayout& layout, int slot, int pin) {
  return layout.pirq_to_pic_irq[pirq_for(slot, pin)];
}

std::vector<PciIntx> pci_interrupts(const PlatformLayout& layout) {
  std::vector<PciIntx> out;
  for (const auto& dev : layout.pci_devices) {
    if (dev.interrupt_pin < 1 || dev.interrupt_pin > 4) continue;
    bool seen = std::any_of(out.begin(), out.end(), [&](const PciIntx& i) {
      return i.slot == dev.slot && i.pin == dev.interrupt_pin;
    });
    if (!seen) out.push_back({dev.slot, dev.interrupt_pin});
  }
  std::sort(out.begin(), out.end(), [](const PciIntx& a, const PciIntx& b) {
    return a.slot != b.slot ? a.slot < b.slot : a.pin < b.pin;
  });
  return out;
}

std::vector<uint8_t> pci_interrupt_slots(const PlatformLayout& layout) {
  std::vector<uint8_t> slots;
  for (const auto& intx : pci_interrupts(layout)) {
    if (slots.empty() || slots.back() != intx.slot) slots.push_back(intx.slot);
  }
  return slots;
}

}  // namespace rrvm
