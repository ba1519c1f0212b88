// The PC that rrvm builds, as one plain description shared by the firmware
// table builders (MP table, ACPI) and the VMM that wires the devices. Every
// fact the guest can see in two places (an IOAPIC ID in the MP table and in
// the IOAPIC's ID register, a PCI interrupt in _PRT and in the router) comes
// from here, so the tables cannot disagree with the hardware.
//
// Choices and where they come from:
// - One CPU, local APIC ID 0 at 0xFEE00000 (Intel SDM vol. 3, 11.4.1).
// - IOAPIC at 0xFEC00000 with ID 1 and version 0x11, 24 pins: kvm-84's
//   rombios32.c (the seed's BIOS) gave the IOAPIC the ID smp_cpus, i.e. the
//   first ID after the CPUs. NetBSD (ioapic_attach) compares the MP table's
//   ID with the IOAPIC ID register and renumbers when they clash with a CPU,
//   so the VMM must construct the IOAPIC with `ioapic_id`.
// - ISA IRQ n -> IOAPIC pin n, except IRQ0 (PIT) -> pin 2: the PC wiring
//   QEMU uses and the MADT override IRQ0 -> GSI 2 describes. IRQ 2 (the
//   cascade) has no pin of its own.
// - HPET (IA-PC HPET 1.0a, devices/hpet.h) at 0xFED00000, as on QEMU's PC
//   and Intel chipsets; its timers route to IOAPIC pins 20-23, which nothing
//   else drives (the Intel PCH datasheets' Tn_INT_ROUTE_CAP), and in
//   LegacyReplacement mode to ISA IRQ0 and IRQ8.
// - ACPI PM block at 0x600 as on QEMU's PIIX4 PM (devices/acpi_pm.h):
//   PM1a_EVT 0x600 (4 bytes), PM1a_CNT 0x604 (2), PM_TMR 0x608 (4), SCI on
//   ISA IRQ 9, level-triggered active high; S5 SLP_TYP = 0 (AcpiPm::kSlpTypS5).
// - PCI INTx routing of the PIIX3 (devices/pci_irq_router.h): device `slot`,
//   pin 1-4 (INTA#-INTD#) uses PIRQ (slot + pin - 2) mod 4, i.e. with a
//   0-based pin (slot - 1 + pin0) mod 4 as QEMU's pc_pci_slot_get_pirq.
//   PIRQA-D reach IOAPIC pins 16-19 and, through the PIIX3 route registers,
//   8259 IRQs 10, 10, 11, 11 (the links SeaBIOS programs on QEMU's PC);
//   pic_irq_for() reports the latter, for the PCI Interrupt Line register.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace rrvm {

// One PCI function on bus 0.
struct PciFunctionInfo {
  uint8_t bus = 0;
  uint8_t slot = 0;           // device number 0-31
  uint8_t function = 0;       // 0-7
  uint8_t interrupt_pin = 0;  // 0 none, 1-4 INTA#-INTD# (PCI 3.0, 6.2.4 Interrupt Pin)
  std::string name;
};

struct PlatformLayout {
  // Local APICs: CPU n has APIC ID bsp_lapic_id + n.
  int num_cpus = 1;
  uint32_t lapic_address = 0xFEE00000;
  uint8_t bsp_lapic_id = 0;
  uint8_t lapic_version = 0x14;  // integrated APIC, as the LAPIC model reports

  // The one IOAPIC (82093AA).
  uint32_t ioapic_address = 0xFEC00000;
  uint8_t ioapic_id = 1;
  uint8_t ioapic_version = 0x11;
  int ioapic_pins = 24;
  uint32_t ioapic_gsi_base = 0;

  // ISA IRQ -> IOAPIC input pin; kNoPin where there is none (IRQ 2).
  static constexpr uint8_t kNoPin = 0xFF;
  std::array<uint8_t, 16> isa_irq_to_pin{};

  // The HPET, when the machine has one; hpet_block_id is its GCAP_ID bits
  // 31:0 (the ACPI table's Event Timer Block ID): revision 1, 3 timers,
  // 64-bit counter, LegacyReplacement capable, vendor 8086, as QEMU's.
  bool hpet = true;
  uint32_t hpet_address = 0xFED00000;
  uint32_t hpet_block_id = 0x8086A201;
  std::array<uint8_t, 4> hpet_pins{20, 21, 22, 23};

  // ACPI fixed hardware (ACPI 6.5, 4.8): I/O ports and block lengths.
  uint16_t pm1a_evt_port = 0x600;
  uint8_t pm1a_evt_len = 4;
  uint16_t pm1a_cnt_port = 0x604;
  uint8_t pm1a_cnt_len = 2;
  uint16_t pm_tmr_port = 0x608;
  uint8_t pm_tmr_len = 4;
  uint8_t sci_irq = 9;
  uint8_t s5_slp_typ = 0;
  uint8_t rtc_century_index = 0x32;  // CMOS index of the century byte (FADT CENTURY)

  // PCI INTx: PIRQA-D -> IOAPIC pin and -> 8259 IRQ.
  std::array<uint8_t, 4> pirq_to_pin{16, 17, 18, 19};
  std::array<uint8_t, 4> pirq_to_pic_irq{10, 10, 11, 11};
  std::vector<PciFunctionInfo> pci_devices;

  // Host bridge windows handed to the OS in PCI0._CRS (ACPI 6.5, 6.4.3.5).
  uint16_t pci_io_base = 0x0D00;  // I/O above the legacy range and 0xCF8-0xCFF
  uint32_t pci_mmio_base = 0xC0000000;
  uint32_t pci_mmio_limit = 0xFEBFFFFF;  // below the IOAPIC
};

// The PCI slot of the RTL8139C+ NIC when present (INTA#).
constexpr uint8_t kNicSlot = 3;

// The machine rrvm builds: 1 CPU, host bridge 00:00.0, PIIX3 ISA bridge
// 00:01.0 and, when `with_nic`, the RTL8139C+ at 00:03.0 INTA#; an HPET
// unless `with_hpet` is false.
PlatformLayout default_layout(bool with_nic, bool with_hpet = true);

// PIRQ (0-3 = A-D) that device `slot`'s `pin` (1-4) drives; the PIIX3
// swizzle above. Pin values outside 1-4 are taken modulo 4 (never UB).
int pirq_for(int slot, int pin);
// IOAPIC input of `slot`/`pin`.
uint8_t ioapic_pin_for(const PlatformLayout& layout, int slot, int pin);
// 8259 IRQ of `slot`/`pin` once the PIRQ links are set up as pirq_to_pic_irq.
uint8_t pic_irq_for(const PlatformLayout& layout, int slot, int pin);

// A distinct (slot, pin) pair that some PCI function interrupts on.
struct PciIntx {
  uint8_t slot;
  uint8_t pin;  // 1-4
};
// The distinct (slot, pin) pairs of all functions with an interrupt pin,
// in slot then pin order: the PCI entries of the MP table.
std::vector<PciIntx> pci_interrupts(const PlatformLayout& layout);
// The distinct slots that have any function with an interrupt pin, ascending.
std::vector<uint8_t> pci_interrupt_slots(const PlatformLayout& layout);

}  // namespace rrvm
