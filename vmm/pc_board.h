// The PC that rrvm builds: which device sits at which port, address and IRQ.
// Placement lives here as named constants, never inside a device (the
// Firecracker device-manager shape); the facts the firmware tables also state
// (IOAPIC ID, IRQ->pin wiring, PCI slots) come from one PlatformLayout
// (firmware/platform_layout.h), so tables and hardware cannot disagree.
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "devices/acpi_pm.h"
#include "devices/char_backend.h"
#include "devices/clock.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/hpet.h"
#include "devices/interrupt_arbiter.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pc_testdev.h"
#include "devices/pci_host.h"
#include "devices/pci_irq_router.h"
#include "devices/pic.h"
#include "devices/piix_isa.h"
#include "devices/pit.h"
#include "devices/post_port.h"
#include "devices/rtc.h"
#include "devices/rtl8139.h"
#include "devices/uart16550.h"
#include "firmware/bios_tables.h"
#include "firmware/platform_layout.h"
#include "vmm/board.h"
#include "vmm/device_states.h"
#include "vmm/device_warnings.h"
#include "vmm/guest_ram.h"
#include "vmm/machine_config.h"
#include "vmm/pci_setup.h"

namespace rrvm {

namespace pc {
// Legacy ISA ports (PLATFORM.md, Legacy PC devices).
constexpr uint16_t kPicMaster = 0x20, kPicSlave = 0xA0, kElcr = 0x4D0;
constexpr uint16_t kPit = 0x40, kPort61 = 0x61;
constexpr uint16_t kRtc = 0x70;
constexpr uint16_t kCom1 = 0x3F8;
constexpr uint16_t kPostCode = 0x80;
constexpr uint16_t kDebugExit = 0xF4;  // QEMU's isa-debug-exit,iobase=0xf4,iosize=4
constexpr uint16_t kPciConfigAddress = 0xCF8, kPciConfigData = 0xCFC;
// QEMU's fw_cfg (docs/specs/fw_cfg.rst: selector 0x510, data 0x511, DMA 0x514).
constexpr uint16_t kFwCfg = 0x510;
// QEMU's pc-testdev (hw/misc/pc-testdev.c), with --pc-testdev on.
constexpr uint16_t kTestdevPorts = 0xE0, kTestdevIrqLines = 0x2000;
constexpr uint64_t kTestdevIomem = 0xFF000000;
// ISA IRQs.
constexpr int kIrqPit = 0, kIrqCom1 = 4, kIrqRtc = 8;
constexpr int kIsaIrqs = 16;
// PCI functions on bus 0 (PLATFORM.md; the NIC's slot is kNicSlot).
constexpr int kHostBridgeSlot = 0, kIsaBridgeSlot = 1;
}  // namespace pc

// One ISA interrupt request: the wire reaches both the 8259 input and the
// IOAPIC pin the platform layout gives it (MP spec 1.4, 3.6.2: the PC
// connects ISA IRQs to both so an OS can use either controller).
class IsaIrq final : public IrqLine {
 public:
  IsaIrq(IrqLine& pic, IrqLine* ioapic) : pic_(pic), ioapic_(ioapic) {}
  void set_level(bool high) override {
    pic_.set_level(high);
    if (ioapic_) ioapic_->set_level(high);
  }

 private:
  IrqLine& pic_;
  IrqLine* ioapic_;
};

class PcBoard {
 public:
  PcBoard(const MachineConfig& cfg, GuestRam& ram, Clock& clock, CharSink& serial);
  PcBoard(const PcBoard&) = delete;
  PcBoard& operator=(const PcBoard&) = delete;

  // The BIOS's part, before the guest starts: PCI resources and routing,
  // then the MP and ACPI tables the configuration asks for. Throws
  // std::runtime_error if guest RAM cannot hold them.
  void setup_firmware(const MachineConfig& cfg, GuestMemory& mem);
  const BiosTablesInfo& bios_tables() const { return tables_; }
  const std::vector<PciBarAssignment>& pci_bars() const { return bars_; }

  Board& board() { return board_; }
  const PlatformLayout& layout() const { return layout_; }
  Uart16550& uart() { return uart_; }
  PicPair& pic() { return pic_; }
  Lapic& lapic() { return lapic_; }
  Ioapic& ioapic() { return ioapic_; }
  PciHost& pci() { return pci_; }
  PiixIsa& isa_bridge() { return isa_bridge_; }
  PciIrqRouter& pci_irqs() { return pci_irqs_; }
  DeviceWarnings& warnings() { return warnings_; }
  FwCfg& fw_cfg() { return fw_cfg_; }
  // The RTL8139C+ when the configuration has a network (--net), else null.
  Rtl8139* nic() { return nic_.get(); }
  // QEMU's pc-testdev with --pc-testdev on, else null.
  PcTestdev* testdev() { return testdev_.get(); }
  // The HPET unless --hpet off, else null.
  Hpet* hpet() { return hpet_.get(); }
  // The line ISA IRQ `n` drives (8259 input and IOAPIC pin).
  IrqLine& isa_irq(int n) { return *isa_irqs_.at(n); }
  // Every device's State, for machine checkpoints.
  const DeviceStates& states() const { return states_; }

 private:
  static std::array<IrqLine*, PciIrqRouter::kPicIrqs> pic_lines(PicPair& pic);
  static std::array<IrqLine*, PiixIsa::kPirqs> pirq_pins(Ioapic& io, const PlatformLayout& l);
  std::vector<std::unique_ptr<IsaIrq>> make_isa_irqs();
  std::unique_ptr<Hpet> make_hpet(Clock& clock);
  IrqLine& pit_irq();
  IrqLine& rtc_irq();
  void rtc_interrupt(bool high);
  uint32_t waking_vector() const;
  static FwCfg::Content fw_cfg_content(const MachineConfig& cfg, const GuestRam& ram,
                                       const PlatformLayout& layout);
  void map_legacy();
  void map_platform();
  void attach_nic(const MachineConfig& cfg, GuestMemory& mem, Clock& clock);
  void attach_testdev();
  void map_nic_bar(int bar, uint64_t base, bool enabled);
  void map_lapic(std::optional<uint64_t> base);
  void move_window(Bus& bus, std::optional<uint64_t>& at, std::optional<uint64_t> base,
                   uint64_t size, IoDevice& dev, const std::string& what);
  void register_states();
  std::string vector_source(uint8_t vector) const;

  DeviceWarnings warnings_;
  PlatformLayout layout_;
  Board board_;
  PicPair pic_;
  Lapic lapic_;
  Ioapic ioapic_;
  InterruptArbiter arbiter_;
  std::vector<std::unique_ptr<IsaIrq>> isa_irqs_;
  PciHost pci_;
  PiixIsa isa_bridge_;
  PciIrqRouter pci_irqs_;
  std::unique_ptr<Hpet> hpet_;  // before the PIT and the RTC, whose IRQs it passes on
  FunctionIrqLine rtc_line_{[this](bool high) { rtc_interrupt(high); }};
  Pit8254 pit_;
  Rtc146818 rtc_;
  Uart16550 uart_;
  PostPort post_;
  DebugExit debug_exit_;
  AcpiPm acpi_pm_;
  FwCfg fw_cfg_;
  std::unique_ptr<PcTestdev> testdev_;
  std::unique_ptr<Rtl8139> nic_;
  std::array<std::optional<uint64_t>, 2> nic_bars_;  // where BAR0 (I/O) and BAR1 are mapped
  std::optional<uint64_t> lapic_page_;               // where the xAPIC page is mapped
  const GuestRam& ram_;
  BiosTablesInfo tables_;
  std::vector<PciBarAssignment> bars_;
  DeviceStates states_;
};

}  // namespace rrvm
