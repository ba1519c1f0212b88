// The PC memory map handed to guests (Multiboot mmap, Linux zero page).
#pragma once

#include <cstdint>
#include <vector>

namespace rrvm {

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;  // 1 usable RAM, 2 reserved (ACPI spec, "System Address Map Interfaces")
};

constexpr uint32_t kE820Ram = 1, kE820Reserved = 2;
constexpr uint64_t kEbdaStart = 0x9FC00;       // 1 KiB EBDA below 640 KiB (MP tables may go here)
constexpr uint64_t kBiosAreaStart = 0xE0000;   // ACPI/MP tables live in 0xE0000-0xFFFFF
constexpr uint64_t kLowRamLimit = 0xC0000000;  // start of the PCI/APIC hole
constexpr uint64_t kHighRamBase = 0x100000000;

// RAM of `ram_size` bytes: [0, 639 KiB) usable, EBDA and BIOS area reserved,
// [1 MiB, min(size, 3 GiB)) usable, the rest of RAM above 4 GiB, and the
// IOAPIC and LAPIC pages reserved so a guest does not take them for RAM.
std::vector<E820Entry> build_e820(uint64_t ram_size);

}  // namespace rrvm
