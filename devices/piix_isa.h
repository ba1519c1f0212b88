// The PCI-to-ISA bridge function of an Intel 82371SB (PIIX3) at 00:01.0,
// reduced to what interrupt routing needs: its identity and the four PIRQ
// route control registers that steer PCI interrupts PIRQA#-PIRQD# onto ISA
// IRQs of the 8259 pair.
//
// Reference: Intel 82371FB/82371SB (PIIX/PIIX3) datasheet (order 290550),
// section 2.2 "PCI to ISA Bridge Configuration Registers": VID 8086h, DID
// 7000h, CLASSC 060100h, HEDT 80h (multi-function), PIRQRC[A:D] at 60h-63h.
//
// Not modelled: the ELCR lives in the PIC model's I/O ports (0x4D0/0x4D1,
// devices/pic.h), not here; other bridge registers (ISA clock, XBCS, TOM,
// MBIRQ, APIC base) read 0 and ignore writes, which no OS relies on for a
// machine booted without a BIOS.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "devices/pci_config.h"
#include "devices/pci_device.h"
#include "devices/warn.h"

namespace rrvm {

class PiixIsa final : public PciDevice {
 public:
  static constexpr int kPirqs = 4;
  // PIRQRC[A:D] (datasheet 2.2.10): bit 7 = 1 disables routing, bits 3:0 =
  // the ISA IRQ; bits 6:4 reserved (read 0). Default 80h (disabled).
  static constexpr uint8_t kPirqRouteBase = 0x60;
  static constexpr uint8_t kPirqDisabled = 0x80;

  struct State {
    PciConfig::State config;
  };

  explicit PiixIsa(WarnFn warn = {});

  void config_read(uint8_t offset, std::span<uint8_t> data) override;
  void config_write(uint8_t offset, std::span<const uint8_t> data) override;

  // The ISA IRQ PIRQ `pirq` (0-3 = A-D) drives, or nullopt when its routing
  // is disabled or names an IRQ the datasheet reserves (0-2, 8, 13): the
  // PIIX then drives no IRQ (the router leaves such a PIRQ unconnected).
  std::optional<int> pirq_route(int pirq) const;
  // Called after a guest write changed any PIRQ route register, so the
  // router can move asserted lines to their new IRQs.
  void set_route_observer(std::function<void()> observer) { on_route_ = std::move(observer); }

  PciConfig& config() { return config_; }

  State save() const { return {config_.save()}; }
  void restore(const State& s) { config_.restore(s.config); }

 private:
  static bool reserved_irq(int irq);
  void warn_reserved_routes() const;

  WarnFn warn_;
  PciConfig config_;
  std::function<void()> on_route_;
};

}  // namespace rrvm
