#include "vmm/pc_board.h"

#include <algorithm>
#include <stdexcept>

#include "devices/hex.h"
#include "firmware/e820.h"

namespace rrvm {

PcBoard::PcBoard(const MachineConfig& cfg, GuestRam& ram, Clock& clock, CharSink& serial)
    : layout_(default_layout(cfg.net.kind != NetKind::kNone, cfg.hpet)),
      lapic_(clock, layout_.bsp_lapic_id, warnings_.sink("lapic")),
      ioapic_(lapic_, layout_.ioapic_id, warnings_.sink("ioapic")),
      arbiter_(pic_, lapic_),
      isa_irqs_(make_isa_irqs()),
      pci_(warnings_.sink("pci")),
      isa_bridge_(warnings_.sink("piix3")),
      pci_irqs_(isa_bridge_, pic_lines(pic_), pirq_pins(ioapic_, layout_)),
      hpet_(make_hpet(clock)),
      pit_(clock, pit_irq()),
      rtc_(clock, rtc_irq(), static_cast<int64_t>(cfg.rtc_epoch)),
      uart_(serial, isa_irq(pc::kIrqCom1)),
      debug_exit_([this](int status) {
        board_.stop = RunResult{StopReason::kGuestExit, status, "", 0};
      }),
      acpi_pm_(
          clock, isa_irq(layout_.sci_irq),
          [this] {
            board_.stop = RunResult{StopReason::kPowerOff, 0, "guest powered off (ACPI S5)", 0};
          },
          warnings_.sink("acpi-pm"), [this] { board_.resume_vector = waking_vector(); }),
      fw_cfg_(fw_cfg_content(cfg, ram, layout_), ram, warnings_.sink("fw_cfg")),
      ram_(ram) {
  uint64_t low = ram.regions()[0].size;
  rtc_.set_memory_size(low, ram.size() - low);
  // The IOAPIC's EOI register is absent on the 82093AA: a level-triggered
  // interrupt's remote IRR clears when the LAPIC broadcasts the EOI
  // (Intel SDM vol. 3, 11.8.5).
  lapic_.set_eoi_broadcast([this](uint8_t vector) { ioapic_.eoi(vector); });
  board_.interrupts = &arbiter_;
  board_.lapic = &lapic_;
  board_.timers = {&pit_, &rtc_, &lapic_, &acpi_pm_};
  if (hpet_) board_.timers.push_back(hpet_.get());
  board_.console_input = [this](std::span<const uint8_t> bytes) { return uart_.receive(bytes); };
  board_.describe_vector = [this](uint8_t v) { return vector_source(v); };
  board_.asleep = [this] { return acpi_pm_.sleeping(); };
  pci_.attach(pc::kIsaBridgeSlot, 0, isa_bridge_);
  map_legacy();
  map_platform();
  if (cfg.net.kind != NetKind::kNone) attach_nic(cfg, ram, clock);
  if (cfg.pc_testdev) attach_testdev();
  register_states();
}

// What fw_cfg tells the guest: the configuration's RAM, CPUs and command
// line, and "etc/e820", the memory map every boot protocol hands over
// (firmware/e820.h) in the file SeaBIOS and OVMF read it from on QEMU, so
// firmware-style guests see the same map through fw_cfg.
FwCfg::Content PcBoard::fw_cfg_content(const MachineConfig& cfg, const GuestRam& ram,
                                       const PlatformLayout& layout) {
  FwCfg::Content c;
  c.ram_size = ram.size();
  c.cpus = static_cast<uint16_t>(layout.num_cpus);
  c.cmdline = cfg.cmdline;
  c.files["etc/e820"] = e820_bytes(build_e820(ram.size()));
  return c;
}

// The HPET's timers reach the IOAPIC pins the layout gives them and, in
// LegacyReplacement mode, ISA IRQ0 and IRQ8, which it otherwise passes on
// from the PIT and the RTC (HPET 1.0a, GEN_CONF LEG_RT_CNF).
std::unique_ptr<Hpet> PcBoard::make_hpet(Clock& clock) {
  if (!layout_.hpet) return nullptr;
  Hpet::Wiring w;
  w.irq0 = &isa_irq(pc::kIrqPit);
  w.irq8 = &isa_irq(pc::kIrqRtc);
  for (uint8_t pin : layout_.hpet_pins) w.ioapic.at(pin) = &ioapic_.irq(pin);
  auto hpet = std::make_unique<Hpet>(clock, w, warnings_.sink("hpet"));
  // The ACPI HPET table gives layout_.hpet_block_id as the block's GCAP_ID.
  if (static_cast<uint32_t>(hpet->capabilities()) != layout_.hpet_block_id)
    throw std::logic_error("platform layout's HPET block ID differs from the HPET's GCAP_ID");
  return hpet;
}

IrqLine& PcBoard::pit_irq() {
  return hpet_ ? hpet_->pit_input() : isa_irq(pc::kIrqPit);
}

// The RTC's interrupt reaches IRQ8 (through the HPET, which may take it
// over) and the ACPI PM's RTC_STS, its S3 wake event.
IrqLine& PcBoard::rtc_irq() {
  return rtc_line_;
}

void PcBoard::rtc_interrupt(bool high) {
  (hpet_ ? hpet_->rtc_input() : isa_irq(pc::kIrqRtc)).set_level(high);
  acpi_pm_.rtc_input().set_level(high);
}

// Where the OS asked the CPU to resume from S3: the FACS's real-mode
// Firmware_Waking_Vector (ACPI 6.5, 5.2.10; offset 12). A protected-mode
// resume through X_Firmware_Waking_Vector (offset 24) is not offered.
uint32_t PcBoard::waking_vector() const {
  std::array<uint8_t, 4> b{};
  if (!tables_.facs_addr || !ram_.read(tables_.facs_addr + 12, b)) return 0;
  return static_cast<uint32_t>(load_le(b));
}

// Lines 0-15 are the ISA IRQs (QEMU: isa_get_irq, which also reaches the
// IOAPIC pin, IRQ0 on pin 2); QEMU aborts on 16-23, here they stay unwired.
void PcBoard::attach_testdev() {
  std::array<IrqLine*, PcTestdev::kIrqLines> lines{};
  for (int n = 0; n < pc::kIsaIrqs; ++n) lines[n] = &isa_irq(n);
  testdev_ = std::make_unique<PcTestdev>(lines, warnings_.sink("pc-testdev"));
  board_.pio.add(pc::kTestdevPorts, PcTestdev::kPortsSize, testdev_->ports());
  board_.pio.add(pc::kTestdevIrqLines, PcTestdev::kIrqLines, testdev_->irq_lines());
  board_.mmio.add(pc::kTestdevIomem, PcTestdev::kIomemSize, testdev_->iomem());
}

// Restores run in this order: the NIC first (its restore recomputes INTx
// and its BAR mappings), then the devices without outputs on restore, the
// interrupt controllers last, so that the line levels their States hold
// are what stays (the LAPIC's restore also moves its page, wherever
// IA32_APIC_BASE put it). A device added to the board goes here too: the
// device_states unit test fails for any bus device, timer or PCI function
// left out.
void PcBoard::register_states() {
  if (nic_) {
    states_.add("rtl8139-pci", nic_->pci());
    states_.add("rtl8139", *nic_);
  }
  states_.add("pci-host", pci_,
              {&pci_.address_io(), &pci_.data_io(), static_cast<PciDevice*>(&pci_.host_bridge())});
  states_.add("piix3", isa_bridge_);
  states_.add("pci-irq-router", pci_irqs_);
  states_.add("pit", pit_, {&pit_.port61()});
  states_.add("rtc", rtc_);
  states_.add("uart", uart_);
  states_.add("acpi-pm", acpi_pm_);
  states_.add("post", post_);
  states_.add("debug-exit", debug_exit_);
  states_.add("fw-cfg", fw_cfg_);
  if (hpet_) states_.add("hpet", *hpet_);
  if (testdev_) {
    states_.add("pc-testdev", *testdev_,
                {&testdev_->ports(), &testdev_->irq_lines(), &testdev_->iomem()});
  }
  states_.add("ioapic", ioapic_);
  states_.add("lapic", lapic_);
  states_.add("pic", pic_, {&pic_.master_io(), &pic_.slave_io(), &pic_.elcr_io()});
  states_.add_stateless("interrupt-arbiter", {static_cast<InterruptController*>(&arbiter_)},
                        "decides from the PIC's and the LAPIC's states");
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
  move_window(bar == 0 ? board_.pio : board_.mmio, nic_bars_[bar],
              enabled ? std::optional(base) : std::nullopt, Rtl8139::kRegisterSpace,
              bar == 0 ? nic_->io() : nic_->mmio(), "BAR" + std::to_string(bar));
}

// The xAPIC page follows IA32_APIC_BASE: gone while the APIC is disabled or
// in x2APIC mode, at the new base after a relocation (SDM vol. 3A 11.4.4).
// A base inside RAM stays RAM: KVM's memslot answers there before any MMIO
// exit, so the APIC page is not reachable (real chipsets differ; say so).
void PcBoard::map_lapic(std::optional<uint64_t> base) {
  if (base && ram_.host_ptr(*base, Lapic::kMmioSize)) {
    warnings_.sink("lapic")("APIC base " + hex(*base) +
                            " lies in RAM: accesses there reach RAM, not the APIC");
  }
  move_window(board_.mmio, lapic_page_, base, Lapic::kMmioSize, lapic_, "page");
}

// Moves `dev`'s window on `bus` from `at` to `base` (nullopt: removes it).
// A window over another device is not decoded, as a real bus would resolve
// the conflict in someone's favour; the device's warning says so.
void PcBoard::move_window(Bus& bus, std::optional<uint64_t>& at, std::optional<uint64_t> base,
                          uint64_t size, IoDevice& dev, const std::string& what) {
  if (at) bus.remove(*at);
  at.reset();
  if (!base) return;
  try {
    bus.add(*base, size, dev);
    at = base;
  } catch (const std::exception& e) {
    warnings_.sink(std::string(dev.name()))(
        what + " at " + hex(*base) + " overlaps another device: not decoded (" + e.what() + ")");
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
    bool hpet_legacy = hpet_ && (hpet_->save().config & Hpet::kLegRtCnf);
    if (nic_ && pin == ioapic_pin_for(layout_, kNicSlot, 1))
      who = "rtl8139";
    else if (pin == layout_.isa_irq_to_pin[pc::kIrqPit])
      who = hpet_legacy ? "HPET timer 0" : "PIT";
    else if (pin == layout_.isa_irq_to_pin[pc::kIrqCom1])
      who = "COM1";
    else if (pin == layout_.isa_irq_to_pin[pc::kIrqRtc])
      who = hpet_legacy ? "HPET timer 1" : "RTC";
    else if (hpet_ && std::count(layout_.hpet_pins.begin(), layout_.hpet_pins.end(), pin))
      who = "HPET";
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
  io.add(pc::kFwCfg, FwCfg::kIoSize, fw_cfg_);
  board_.mmio.add(layout_.ioapic_address, Ioapic::kMmioSize, ioapic_);
  if (hpet_) board_.mmio.add(layout_.hpet_address, Hpet::kMmioSize, *hpet_);
  // The MADT and MP table name layout_.lapic_address; the APIC resets to its
  // architectural base, so the two must agree.
  if (lapic_.mmio_base() != layout_.lapic_address)
    throw std::logic_error("platform layout puts the LAPIC away from its reset base");
  lapic_.set_mmio_observer([this](std::optional<uint64_t> base) { map_lapic(base); });
  map_lapic(lapic_.mmio_base());
}

}  // namespace rrvm
