// Intel MultiProcessor Specification 1.4 (May 1997) tables: the MP floating
// pointer structure (section 4.1) and the MP configuration table (4.2 header,
// 4.3 base entries), in the two shapes the seed compares.
//
// MpTableVariant::kvm84 — the table of kvm-84's rombios32.c mptable_init(),
// which the seed found NetBSD/amd64 failing on: one bus entry, ISA with ID 0,
// and I/O interrupt entries for the ISA IRQs only, all with flags 0
// ("conforms to bus"). An OS that learns about PCI from the MP table (NetBSD
// mpbios_scan_pci) finds no PCI bus and no PCI interrupt. Two things differ
// from the literal kvm-84 bytes, so that the table describes the machine
// rrvm actually builds: IRQ0 is routed to INTIN2 and IRQ2 (the cascade) has
// no entry, as in later QEMU BIOSes and the MADT; and local interrupt entries
// (ExtINT on LINT0, NMI on LINT1) are present, as the spec's default
// configurations (section 5) wire them. Neither changes what the seed is
// about.
//
// MpTableVariant::fixed — the seed's mptable.diff: bus 0 = "PCI   ", bus 1 =
// "ISA   " (Appendix D.2: PCI buses first, numbered by their PCI bus
// number), ISA interrupt entries name source bus 1, and one I/O interrupt
// entry per PCI (slot, pin) that some device uses, with flags 0x0d
// (level-triggered, active high — how the IOAPIC model and the MADT treat
// PCI and the SCI), source bus IRQ (slot << 2) | (pin - 1) (Appendix D.3),
// routed to the IOAPIC pin of the PIIX3 PIRQ swizzle. The SCI's ISA IRQ is
// also declared level/active-high, matching the MADT override: the seed's
// change (3) made the MP flags agree with the ACPI tables.
//
// MpTableVariant::none — no MP table at all.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "firmware/platform_layout.h"

namespace rrvm {

enum class MpTableVariant { kvm84, fixed, none };

// "kvm84" | "fixed" | "none" (the --mptable values) -> variant, or nullopt.
std::optional<MpTableVariant> parse_mp_table_variant(std::string_view text);
std::string_view to_string(MpTableVariant variant);

// MP spec 1.4 constants shared with the tests and the bios_tables placement.
namespace mp {
constexpr uint32_t kFloatingPointerSize = 16;  // 4.1: LENGTH = 1 paragraph
constexpr uint32_t kHeaderSize = 44;           // 4.2, Table 4-2
constexpr uint32_t kEntryCountOffset = 0x22;
constexpr uint32_t kLapicAddressOffset = 0x24;
// 4.3, Table 4-3: entry types and lengths.
constexpr uint8_t kProcessor = 0, kBus = 1, kIoapic = 2, kIoInterrupt = 3, kLocalInterrupt = 4;
constexpr uint32_t kProcessorEntrySize = 20, kOtherEntrySize = 8;
// Table 4-11: interrupt types.
constexpr uint8_t kIntInt = 0, kIntNmi = 1, kIntSmi = 2, kIntExtInt = 3;
// Table 4-10: PO (bits 1:0) and EL (bits 3:2); 0 = conforms to the bus.
constexpr uint16_t kFlagsConforms = 0x00;
constexpr uint16_t kFlagsLevelActiveHigh = (3 << 2) | 1;  // 0x0d
constexpr uint8_t kAllLocalApics = 0xFF;                  // Table 4-12: destination "all"
}  // namespace mp

// The MP configuration table (header, base entries; no extended entries, no
// OEM table) for `layout`. Empty for MpTableVariant::none. The table holds no
// absolute address of its own, so it can be placed anywhere the floating
// pointer can point (4.2: in the EBDA, base memory top, BIOS ROM area, or
// above the top of memory).
std::vector<uint8_t> build_mp_config_table(MpTableVariant variant, const PlatformLayout& layout);

// The 16-byte floating pointer (4.1) naming the configuration table at
// `config_table_addr`; feature bytes 0 (a configuration table is present,
// IMCR absent: virtual wire mode).
std::vector<uint8_t> build_mp_floating_pointer(uint32_t config_table_addr);

}  // namespace rrvm
