// The PC memory map handed to guests: the Multiboot mmap, the Linux zero
// page's e820_table and the PVH memory map are all built from build_e820(),
// so every boot protocol sees the same machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rrvm {

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // kE820Ram or kE820Reserved
};

// Address range types (ACPI 6.5, 15.1 "INT 15H, E820H", Table 15.1).
constexpr uint32_t kE820Ram = 1, kE820Reserved = 2;

constexpr uint64_t kEbdaStart = 0x9FC00;      // 1 KiB EBDA below 640 KiB (MP tables may go here)
constexpr uint64_t kEbdaEnd = 0xA0000;        // VGA window and option ROMs follow: not RAM
constexpr uint64_t kBiosAreaStart = 0xE0000;  // ACPI/MP tables live in 0xE0000-0xFFFFF
constexpr uint64_t kBiosAreaEnd = 0x100000;
constexpr uint64_t kHighMemStart = 0x100000;    // "upper memory" starts at 1 MiB
constexpr uint64_t kLowRamLimit = 0xC0000000;   // start of the PCI/APIC hole (vmm/guest_ram.h)
constexpr uint64_t kHighRamBase = 0x100000000;  // RAM above the hole resumes at 4 GiB
constexpr uint64_t kIoApicBase = 0xFEC00000, kLapicBase = 0xFEE00000, kApicPageSize = 0x1000;

// The map for `ram_size` bytes of RAM laid out as vmm/guest_ram.h does
// ([0, min(size, 3 GiB)) then the rest from 4 GiB), in ascending order:
//   [0, 0x9FC00)              usable (639 KiB: conventional memory minus the EBDA)
//   [0x9FC00, 0xA0000)        reserved (EBDA)
//   [0xE0000, 0x100000)       reserved (BIOS area holding ACPI and MP tables)
//   [1 MiB, min(size, 3 GiB)) usable
//   [0xFEC00000, +4 KiB)      reserved (IOAPIC)
//   [0xFEE00000, +4 KiB)      reserved (LAPIC)
//   [4 GiB, 4 GiB + size - 3 GiB)  usable, when size > 3 GiB
// The 0xA0000-0xDFFFF hole (VGA, option ROMs) is simply absent. The APIC
// pages are not RAM; we list them as reserved anyway, as SeaBIOS and most
// firmware do, so that an OS that sizes its MMIO from E820 keeps away from
// them (Linux and NetBSD both accept reserved entries in the hole).
// Sizes below 1 MiB (never configured; GuestRam's minimum is 2 MiB) clamp the
// low entry and omit the upper one rather than list RAM that does not exist.
std::vector<E820Entry> build_e820(uint64_t ram_size);

// The map as packed 20-byte entries (u64 address, u64 length, u32 type,
// little-endian): the BIOS E820 record that the Linux zero page's
// e820_table (boot_e820_entry) and QEMU's fw_cfg file "etc/e820" both use.
constexpr size_t kE820EntryBytes = 20;
std::vector<uint8_t> e820_bytes(const std::vector<E820Entry>& map);

// True when [addr, addr + len) lies entirely inside one entry of `type`.
bool e820_contains(const std::vector<E820Entry>& map, uint64_t addr, uint64_t len,
                   uint32_t type = kE820Ram);
// The usable entry that starts at `addr` (0 for conventional memory, 1 MiB for
// upper memory); its size, or 0 when there is none.
uint64_t e820_usable_at(const std::vector<E820Entry>& map, uint64_t addr);

}  // namespace rrvm
