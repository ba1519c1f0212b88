#include "vmm/pc_board.h"

#include <stdexcept>

#include "devices/hex.h"

namespace rrvm {

PcBoard::PcBoard(const MachineConfig& cfg, GuestRam& ram, Clock& clock, CharSink& serial)
    : layout_(default_layout(cfg.net.kind != NetKind::kNone)),
      lapic_(clock, layout_.bsp_lapic_id, warnings_.sink("lapic")),
      ioapic_(lapic_, layout_.ioapic_id, warnings_.sink("ioapic")),
      arbiter_(pic_, lapic_),
      isa_irqs_(make_isa_irqs()),
      pci_(warnings_.sink("pci")),
      isa_bridge_(warnings_.sink("piix3")),
      pci_irqs_(isa_bridge_, pic_lines(pic_), pirq_pins(ioapic_, layout_)),
      pit_(clock, isa_irq(pc::kIrqPit)),
      rtc_(clock, isa_irq(pc::kIrqRtc), static_cast<int64_t>(cfg.rtc_epoch)),
      uart_(serial, isa_irq(pc::kIrqCom1)),
      debug_exit_([this](int status) {
        board_.stop = RunResult{StopReason::kGuestExit, status, "", 0};
      }),
      acpi_pm_(
          clock, isa_irq(layout_.sci_irq),
          [this] {
            board_.stop = RunResult{StopReason::kPowerOff, 0, "guest powered off (ACPI S5)", 0};
          },
          warnings_.sink("acpi-pm")) {
  uint64_t low = ram.regions()[0].size;
  rtc_.set_memory_size(low, ram.size() - low);
  // The IOAPIC's EOI register is absent on the 82093AA: a level-triggered
  // interrupt's remote IRR clears when the LAPIC broadcasts the EOI
  // (Intel SDM vol. 3, 11.8.5).
  lapic_.set_eoi_broadcast([this](uint8_t vector) { ioapic_.eoi(vector); });
  board_.interrupts = &arbiter_;
  board_.lapic = &lapic_;
  board_.timers = {&pit_, &rtc_, &lapic_, &acpi_pm_};
  board_.console_input = [this](std::span<const uint8_t> bytes) { return uart_.receive(bytes); };
  board_.describe_vector = [this](uint8_t v) { return vector_source(v); };
  pci_.attach(pc::kIsaBridgeSlot, 0, isa_bridge_);
  map_legacy();
  map_platform();
  if (cfg.net.kind != NetKind::kNone) attach_nic(cfg, ram, clock);
}

// The RTL8139C+ at 00:03.0 INTA# (firmware/platform_layout.h); its BARs
// move on the buses wherever the firmware or the guest programs them.
void PcBoard::attach_nic(const MachineConfig& cfg, GuestMemory& mem, Clock& clock) {
  Rtl8139::Config c;
  c.timer_enabled = cfg.rtl8139_timer;
  nic_ = std::make_unique<Rtl8139>(clock, mem, c, warnings_.sink("rtl8139"));
  nic_->pci().connect_intx(&pci_irqs_.intx(kNicSlot, 1));
  nic_->pci().set_bar_observer(
      [this](int bar, uint64_t base, bool enabled) { map_nic_bar(bar, base, enabled); });
  pci_.attach(kNicSlot, 0, nic_->pci());
  board_.timers.push_back(nic_.get());
  board_.net_input = [this](std::span<const uint8_t> frame) { return nic_->receive(frame); };
}

void PcBoard::map_nic_bar(int bar, uint64_t base, bool enabled) {
  if (bar > 1) return;
  Bus& bus = bar == 0 ? board_.pio : board_.mmio;
  if (nic_bars_[bar]) bus.remove(*nic_bars_[bar]);
  nic_bars_[bar].reset();
  if (!enabled) return;
  try {
    bus.add(base, Rtl8139::kRegisterSpace, bar == 0 ? nic_->io() : nic_->mmio());
    nic_bars_[bar] = base;
  } catch (const std::exception& e) {
    // A guest placing the BAR over another device: the NIC does not
    // decode there, as a real bus would resolve it in someone's favour.
    warnings_.sink("rtl8139")("BAR" + std::to_string(bar) + " at " + hex(base) +
                              " overlaps another device: not decoded (" + e.what() + ")");
  }
}

void PcBoard::setup_firmware(const MachineConfig& cfg, GuestMemory& mem) {
  bars_ = setup_pci(pci_, isa_bridge_, pic_, layout_);
  tables_ = write_bios_tables(layout_, cfg.mptable, AcpiOptions{cfg.acpi, cfg.acpi_pic}, mem);
}

// Which programmed source delivers `vector`: an unmasked IOAPIC pin (named
// by what the layout wires to it) or the LAPIC timer.
std::string PcBoard::vector_source(uint8_t vector) const {
  constexpr uint64_t kMasked = 1ull << 16;  // 82093AA redirection entry bit 16
  for (int pin = 0; pin < Ioapic::kPins; ++pin) {
    uint64_t r = ioapic_.redirection(pin);
    if ((r & kMasked) || (r & 0xff) != vector) continue;
    std::string who;
    if (nic_ && pin == ioapic_pin_for(layout_, kNicSlot, 1))
      who = "rtl8139";
    else if (pin == layout_.isa_irq_to_pin[pc::kIrqPit])
      who = "PIT";
    else if (pin == layout_.isa_irq_to_pin[pc::kIrqCom1])
      who = "COM1";
    else if (pin == layout_.isa_irq_to_pin[pc::kIrqRtc])
      who = "RTC";
    else if (pin == layout_.isa_irq_to_pin[layout_.sci_irq])
      who = "ACPI SCI";
    return "IOAPIC pin " + std::to_string(pin) + (who.empty() ? "" : ": " + who);
  }
  uint32_t lvt = lapic_.save().lvt[Lapic::kLvtTimer];
  if (!(lvt & kMasked) && (lvt & 0xff) == vector) return "LAPIC timer";
  return "";
}

std::array<IrqLine*, PciIrqRouter::kPicIrqs> PcBoard::pic_lines(PicPair& pic) {
  std::array<IrqLine*, PciIrqRouter::kPicIrqs> lines{};
  for (int i = 0; i < PciIrqRouter::kPicIrqs; ++i) lines[i] = &pic.irq(i);
  return lines;
}

std::array<IrqLine*, PiixIsa::kPirqs> PcBoard::pirq_pins(Ioapic& io, const PlatformLayout& l) {
  std::array<IrqLine*, PiixIsa::kPirqs> pins{};
  for (int i = 0; i < PiixIsa::kPirqs; ++i) pins[i] = &io.irq(l.pirq_to_pin[i]);
  return pins;
}

std::vector<std::unique_ptr<IsaIrq>> PcBoard::make_isa_irqs() {
  std::vector<std::unique_ptr<IsaIrq>> irqs;
  for (int n = 0; n < pc::kIsaIrqs; ++n) {
    uint8_t pin = layout_.isa_irq_to_pin[n];
    IrqLine* apic = pin == PlatformLayout::kNoPin ? nullptr : &ioapic_.irq(pin);
    irqs.push_back(std::make_unique<IsaIrq>(pic_.irq(n), apic));
  }
  return irqs;
}

void PcBoard::map_legacy() {
  Bus& io = board_.pio;
  io.add(pc::kPicMaster, 2, pic_.master_io());
  io.add(pc::kPicSlave, 2, pic_.slave_io());
  io.add(pc::kElcr, 2, pic_.elcr_io());
  io.add(pc::kPit, 4, pit_);
  io.add(pc::kPort61, 1, pit_.port61());
  io.add(pc::kRtc, 2, rtc_);
  io.add(pc::kCom1, 8, uart_);
  io.add(pc::kPostCode, 1, post_);
  io.add(pc::kDebugExit, 4, debug_exit_);
}

// PCI, the APICs and the ACPI PM block (PLATFORM.md; addresses from the layout).
void PcBoard::map_platform() {
  Bus& io = board_.pio;
  io.add(pc::kPciConfigAddress, 4, pci_.address_io());
  io.add(pc::kPciConfigData, 4, pci_.data_io());
  io.add(layout_.pm1a_evt_port, AcpiPm::kSize, acpi_pm_);
  board_.mmio.add(layout_.ioapic_address, Ioapic::kMmioSize, ioapic_);
  board_.mmio.add(layout_.lapic_address, Lapic::kMmioSize, lapic_);
}

}  // namespace rrvm
