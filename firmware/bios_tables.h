// Places the MP and ACPI tables in guest memory where an OS looks for them,
// as a PC BIOS would, and fills the two BIOS Data Area words the MP search
// depends on.
//
// Address map (all below 1 MiB; E820 marks 0x9FC00-0x9FFFF and
// 0xE0000-0xFFFFF reserved):
//
//   0x0040E  u16  BDA: EBDA segment = 0x9FC0       (MP spec 1.4, 4: "the
//   0x00413  u16  BDA: base memory in KiB = 639     first KiB of the EBDA")
//   0x9FC00  1 KiB EBDA; byte 0 = its size in KiB (1); otherwise zero
//   0xE0000  RSDP (36 bytes)                         ACPI 6.5, 5.2.5.1: found
//   0xE0040  FACS (64 bytes, 64-byte aligned)        on a 16-byte boundary in
//   0xE0080  DSDT, then FADT, MADT, HPET (if any),   0xE0000-0xFFFFF
//            RSDT, XSDT, each 16-byte aligned, up to 0xEFFFF
//   0xF0000  MP floating pointer (16 bytes)          MP spec 1.4, 4: searched
//   0xF0010  MP configuration table, up to 0xFFFFF   in 0xF0000-0xFFFFF
//
// The floating pointer lives in the BIOS ROM area, the one place every OS
// searches (NetBSD mpbios_probe tries the EBDA first, then the last KiB of
// base memory, then 0xF0000; Linux the same areas). The EBDA stays empty, so
// there is exactly one "_MP_" and one "RSD PTR " in guest memory.
//
// Before writing, the EBDA and the whole 0xE0000-0xFFFFF area are zeroed, so
// no stale signature from an earlier layout survives. Nothing else in guest
// memory is touched.
#pragma once

#include <cstdint>

#include "devices/guest_memory.h"
#include "firmware/acpi.h"
#include "firmware/mptable.h"
#include "firmware/platform_layout.h"

namespace rrvm {

namespace bios {
constexpr uint64_t kBdaEbdaSegment = 0x40E;
constexpr uint64_t kBdaBaseMemoryKib = 0x413;
constexpr uint64_t kEbdaAddr = 0x9FC00;
constexpr uint64_t kEbdaSize = 0x400;
constexpr uint16_t kBaseMemoryKib = kEbdaAddr / 1024;  // 639
constexpr uint64_t kAcpiAreaStart = 0xE0000, kAcpiAreaEnd = 0xF0000;
constexpr uint64_t kMpAreaStart = 0xF0000, kMpAreaEnd = 0x100000;
}  // namespace bios

// Where write_bios_tables() put everything; 0 for what it did not write.
struct BiosTablesInfo {
  uint32_t mp_floating_addr = 0;
  uint32_t mp_config_addr = 0;
  uint32_t mp_config_size = 0;
  uint32_t rsdp_addr = 0;
  uint32_t rsdt_addr = 0;
  uint32_t xsdt_addr = 0;
  uint32_t fadt_addr = 0;
  uint32_t facs_addr = 0;
  uint32_t madt_addr = 0;
  uint32_t hpet_addr = 0;
  uint32_t dsdt_addr = 0;
  uint32_t dsdt_size = 0;
  uint32_t acpi_end = 0;  // first byte after the last ACPI table
};

// Writes the BDA words, the MP tables (unless `variant` is none) and the
// ACPI tables (if `acpi.enabled`) into `mem`. Throws std::runtime_error
// naming the address when guest RAM does not cover the BIOS area (less than
// 1 MiB), and std::length_error if the tables outgrow their area.
BiosTablesInfo write_bios_tables(const PlatformLayout& layout, MpTableVariant variant,
                                 const AcpiOptions& acpi, GuestMemory& mem);

}  // namespace rrvm
