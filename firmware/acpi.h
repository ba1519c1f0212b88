// ACPI table builders for the PC of platform_layout.h: RSDP, RSDT, XSDT,
// FADT, FACS, MADT and a DSDT with \_SB.PCI0, its _PRT, \_S5 and, when asked,
// the _PIC method whose absence made NetBSD's mpacpi give up in the seed
// ("mpacpi: switch to APIC mode failed").
//
// Reference: ACPI Specification 6.5. 5.2.5 RSDP, 5.2.6 System Description
// Table Header, 5.2.7 RSDT, 5.2.8 XSDT, 5.2.9 FADT (its format and fixed
// feature flags tables; 5.2.9.3 IA-PC boot architecture flags), 5.2.10 FACS, 5.2.11.1
// DSDT, 5.2.12 MADT (5.2.12.2 Processor Local APIC, 5.2.12.3 I/O APIC,
// 5.2.12.5 Interrupt Source Override, 5.2.12.7 Local APIC NMI), 5.2.3.2
// Generic Address Structure; 6.1.1 _ADR, 6.1.5 _HID, 6.2.13 _PRT, 6.5.5
// _BBN, 5.8.1 _PIC, 7.4.2 \_Sx.
//
// Decisions:
// - Revisions: FADT 3 (ACPI 2.0 layout, 244 bytes: the 32-bit fields plus
//   the X_ 64-bit ones), RSDP 2 with an XSDT, DSDT 2 (64-bit AML integers).
//   ACPI 2.0-era ACPICA (NetBSD 5, Linux 2.6.26) and today's read these.
// - SMI_CMD = 0, ACPI_ENABLE = ACPI_DISABLE = 0: there is no SMM and no BIOS
//   to hand over from. ACPI 6.5, 5.2.9: SMI_CMD zero means the platform does
//   not support the legacy/ACPI mode transition and is always in ACPI mode;
//   the PM model starts with SCI_EN set (devices/acpi_pm.h). Simpler than an
//   SMI port, and still a full (not hardware-reduced) ACPI platform: the
//   seed's guests predate hardware-reduced ACPI.
// - FIRMWARE_CTRL holds the FACS address and X_FIRMWARE_CTRL is 0 (5.2.9:
//   X_FIRMWARE_CTRL must be zero when FIRMWARE_CTRL is used); DSDT and X_DSDT
//   both hold the DSDT address. The X_PM1a/PM_TMR blocks repeat the 32-bit
//   port fields as System I/O Generic Address Structures of the same width.
// - The fixed power button is present (PWR_BUTTON = 0); no sleep button,
//   no RTC wake status, no 8042, no VGA; no GPE blocks; no reset register.
// - _PRT is APIC-mode only: every entry has Source 0 and a Source Index
//   that is the GSI (IOAPIC pin of the PIIX3 PIRQ swizzle), for all four
//   pins of every slot with an interrupting device. There are no PCI link
//   devices, so an OS that stays in PIC mode finds no usable routing in
//   _PRT and falls back to the Interrupt Line register (which the VMM fills
//   with pic_irq_for()). _PIC, when present, only stores its argument.
// - An "HPET" table (IA-PC HPET 1.0a, 3.2.4 "The ACPI 2.0 HPET Description
//   Table") when the layout has an HPET: its Event Timer Block ID (the
//   HPET's GCAP_ID bits 31:0, layout.hpet_block_id), its base as a System
//   Memory GAS, HPET number 0, no minimum periodic tick and no page
//   protection, as QEMU's. No PNP0103 device in the DSDT: OSes find the
//   HPET through this table (Linux's /dev/hpet driver needs the device; its
//   clocksource and clockevents do not).
// - \_S5 = Package { SLP_TYPa, SLP_TYPb, 0, 0 } with layout.s5_slp_typ (0,
//   the value AcpiPm powers off on, as QEMU's PIIX4 PM).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "firmware/platform_layout.h"

namespace rrvm {

struct AcpiOptions {
  bool enabled = true;     // --acpi on|off: build the tables at all
  bool pic_method = true;  // --acpi-pic on|off: Name(PICF, 0) + Method(_PIC, 1)
};

namespace acpi {
constexpr size_t kHeaderSize = 36;  // 5.2.6
constexpr size_t kRsdpSize = 36;    // 5.2.5.3, revision 2
constexpr size_t kRsdpV1Size = 20;  // the part the first checksum covers
constexpr size_t kFacsSize = 64;    // 5.2.10
constexpr size_t kFacsAlignment = 64;
constexpr size_t kFadtSize = 244;  // revision 3
constexpr size_t kHpetSize = 56;   // HPET 1.0a, 3.2.4
constexpr size_t kChecksumOffset = 9;
// FADT field offsets (5.2.9, FADT format) the bios_tables tests and the VMM read.
constexpr size_t kFadtFacs = 36, kFadtDsdt = 40, kFadtSciInt = 46, kFadtSmiCmd = 48;
constexpr size_t kFadtPm1aEvt = 56, kFadtPm1aCnt = 64, kFadtPmTmr = 76;
constexpr size_t kFadtFlags = 112, kFadtXFacs = 132, kFadtXDsdt = 140;
// MADT entry types (5.2.12) and MPS INTI flags (5.2.12.5; the MP spec's
// Table 4-10 encoding).
constexpr uint8_t kMadtLocalApic = 0, kMadtIoapic = 1, kMadtOverride = 2, kMadtLocalNmi = 4;
constexpr uint16_t kIntiConforms = 0x0000, kIntiLevelActiveHigh = 0x000d;
}  // namespace acpi

// 5.2.5.3: "RSD PTR ", revision 2, both checksums set.
std::vector<uint8_t> build_rsdp(uint32_t rsdt_addr, uint64_t xsdt_addr);
// 5.2.7 / 5.2.8: header and the table addresses, 32- or 64-bit.
std::vector<uint8_t> build_rsdt(std::span<const uint32_t> table_addrs);
std::vector<uint8_t> build_xsdt(std::span<const uint64_t> table_addrs);
// 5.2.9: "FACP" revision 3 pointing at the FACS and DSDT.
std::vector<uint8_t> build_fadt(const PlatformLayout& layout, uint32_t facs_addr,
                                uint32_t dsdt_addr);
// 5.2.10: 64 bytes, no checksum; must be placed 64-byte aligned.
std::vector<uint8_t> build_facs();
// 5.2.12: "APIC" with the local APICs, the IOAPIC, the ISA overrides (IRQ0
// -> GSI 2 conforming; the SCI level/active high) and LINT1 = NMI.
std::vector<uint8_t> build_madt(const PlatformLayout& layout);
// HPET 1.0a, 3.2.4: "HPET" for the layout's HPET (see the decisions above).
std::vector<uint8_t> build_hpet(const PlatformLayout& layout);
// 5.2.11.1: "DSDT" header + AML (see the decisions above).
std::vector<uint8_t> build_dsdt(const PlatformLayout& layout, const AcpiOptions& options);

}  // namespace rrvm
