// Where rrvm's loaders and table builders put things in guest physical memory.
// One table, so that no two writers pick the same bytes:
//
//   0x00000-0x004FF  real-mode IVT and BIOS data area (left zero)
//   0x07000-0x07FFF  Linux zero page (boot_params) or PVH hvm_start_info,
//                    module list and memory map
//   0x08000-0x1FFFF  Multiboot boot data area (offsets below); at 0x20000-
//                    0x37FFF instead when a Multiboot kernel is linked there:
//     +0x0000-0x00FF   Multiboot information structure
//     +0x0100-0x07FF   Multiboot memory map (24-byte size-prefixed entries)
//     +0x0800-0x0FFF   Multiboot module list (16 bytes per module)
//     +0x1000-0x17FFF  Multiboot strings: loader name, command line, module strings
//   0x20000-0x2FFFF  Linux / PVH kernel command line
//   0x70000-0x76FFF  long-mode page tables and GDT written by the VMM
//                    (vmm/machine.cc, vmm/x86_boot.h)
//   0x9FC00-0x9FFFF  EBDA (reserved in E820; MP floating pointer and table)
//   0xE0000-0xFFFFF  BIOS area (reserved in E820; ACPI and MP tables)
//   0x100000-        kernel segments; then Multiboot modules page-aligned after
//                    the kernel; a Linux initrd at the top of low RAM below
//                    initrd_addr_max.
//
// Kernel segments below 1 MiB are refused by the Linux and ELF64 loaders:
// that is where the boot data above lives. Multiboot kernels may also be
// linked in conventional memory (kvm-unit-tests' realmode test is linked at
// 0x8000 and drops to real mode), as QEMU allows: anywhere in
// [kConventionalMin, kConventionalEnd) clear of the Multiboot boot data
// area, which moves to its second place when the kernel is in the first.
// Multiboot entry writes nothing else below 1 MiB but the BIOS-area tables.
#pragma once

#include <cstdint>

namespace rrvm {

constexpr uint64_t kKernelMinAddr = 0x100000;  // 1 MiB: lowest kernel segment

// [begin, end) in guest physical memory.
struct MemRange {
  uint64_t begin = 0, end = 0;
};

constexpr uint64_t kConventionalMin = 0x500;    // above the IVT and BIOS data area
constexpr uint64_t kConventionalEnd = 0x9FC00;  // the EBDA

// Multiboot (see firmware/multiboot.h): the boot data area's places, and
// what lies where inside it.
constexpr uint32_t kMultibootAreas[] = {0x8000, 0x20000};
constexpr uint32_t kMultibootAreaSize = 0x18000;
constexpr uint32_t kMultibootInfoOff = 0x0;
constexpr uint32_t kMultibootInfoSize = 0x100;
constexpr uint32_t kMultibootMmapOff = 0x100;
constexpr uint32_t kMultibootMmapEnd = 0x800;
constexpr uint32_t kMultibootModsOff = 0x800;
constexpr uint32_t kMultibootModsEnd = 0x1000;
constexpr uint32_t kMultibootStringsOff = 0x1000;
constexpr uint32_t kMultibootStringsEnd = kMultibootAreaSize;

// Linux boot protocol and PVH (see firmware/linux_boot.h).
constexpr uint32_t kLinuxZeroPageAddr = 0x7000;  // boot_params, 4 KiB
constexpr uint32_t kPvhStartInfoAddr = 0x7000;   // hvm_start_info (56 bytes)
constexpr uint32_t kPvhModlistAddr = 0x7040;     // one hvm_modlist_entry (32 bytes)
constexpr uint32_t kPvhMemmapAddr = 0x7100;      // hvm_memmap_table_entry[] (24 bytes each)
constexpr uint32_t kPvhMemmapEnd = 0x8000;
constexpr uint32_t kLinuxCmdlineAddr = 0x20000;
constexpr uint32_t kLinuxCmdlineMax = 0x10000;   // bytes including the NUL
constexpr uint64_t kLinuxKernelAddr = 0x100000;  // bzImage protected-mode code (code32_start)

}  // namespace rrvm
