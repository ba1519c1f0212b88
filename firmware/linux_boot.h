// Linux boot protocol loader (Documentation/arch/x86/boot.rst and
// zero-page.rst) for bzImage, and the PVH entry (Xen's
// docs/misc/pvh.pandoc, xen/include/public/arch-x86/hvm/start_info.h) for
// an uncompressed ELF vmlinux built with CONFIG_PVH.
//
// bzImage: the protected-mode kernel (the file after the (setup_sects + 1)
// 512-byte setup sectors) is loaded at 1 MiB, its code32_start. The 16-bit
// setup code is not run; rrvm fills the zero page (struct boot_params) the
// way that code would. Entry, set up by the VMM:
//   64-bit boot protocol, when xloadflags has XL_KERNEL_64 (protocol 2.12+):
//     long_mode_entry = true, entry = 0x100000 + 0x200; paging on with
//     identity-mapped kernel, zero page and command line (vmm's 4 GiB
//     identity map covers them); GDT with __BOOT_CS = 0x10 (64-bit code) and
//     __BOOT_DS = 0x18 (data); CS = 0x10, DS = ES = SS = 0x18; IF clear;
//     RSI = info_addr (the zero page). vmm/x86_boot.h enter_long_mode does this.
//   32-bit boot protocol otherwise: long_mode_entry = false, entry = 0x100000;
//     flat protected mode, paging off, CS = 0x10, DS = ES = SS = 0x18, IF
//     clear, ESI = info_addr, EBP = EDI = EBX = 0.
// PVH: ELF segments at their p_paddr; entry = the XEN_ELFNOTE_PHYS32_ENTRY
//   value; 32-bit flat protected mode, paging off, CR4 = 0, IF clear,
//   EBX = info_addr (hvm_start_info, version 1, with memory map).
//
// Guest memory written (firmware/boot_layout.h):
//   0x7000   zero page (bzImage) or hvm_start_info 0x7000, hvm_modlist_entry
//            0x7040, memory map 0x7100 (PVH)
//   0x20000  command line, NUL-terminated (at most cmdline_size bytes for a
//            bzImage; 64 KiB - 1 in any case)
//   initrd   page-aligned at the top of low RAM, its last byte at or below
//            initrd_addr_max (bzImage) and above the kernel (init_size)
// The E820 table is build_e820(mem.size()) in both cases.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "devices/guest_memory.h"
#include "firmware/elf.h"

namespace rrvm {

// The setup header fields the loader uses (boot.rst, "The Real-Mode Kernel
// Header"); offsets are those in the file and in boot_params.
struct LinuxSetupHeader {
  uint16_t version = 0;          // 0x206, e.g. 0x020f for 2.15
  uint8_t loadflags = 0;         // 0x211
  uint64_t setup_bytes = 0;      // (setup_sects + 1) * 512, setup_sects 0 meaning 4
  uint64_t header_end = 0;       // 0x202 + the byte at 0x201
  uint32_t syssize = 0;          // 0x1f4, protected-mode size in 16-byte units
  uint32_t initrd_addr_max = 0;  // 0x22c, highest address the initrd may occupy
  uint32_t cmdline_size = 0;     // 0x238, maximum command line length without NUL
  uint32_t payload_offset = 0;   // 0x248 (2.08+), the compressed kernel in the protected-mode code
  uint32_t payload_length = 0;   // 0x24c (2.08+)
  uint32_t init_size = 0;        // 0x260 (2.10+), memory the kernel needs from its load address
  uint16_t xloadflags = 0;       // 0x236 (2.12+)
  bool kernel64() const;         // 64-bit entry point at +0x200 present
};

constexpr uint16_t kLinuxMinVersion = 0x0206;
constexpr uint32_t kXenElfnotePhys32Entry = 18;  // xen/include/public/elfnote.h
constexpr uint32_t kHvmStartMagic = 0x336ec578;  // "xEn3" with the 0x80 bit of "E" set

// "HdrS" at 0x202: a kernel image using the Linux boot protocol.
bool is_bzimage(std::span<const uint8_t> image);
// An ELF image with a XEN_ELFNOTE_PHYS32_ENTRY note (false when malformed).
bool is_pvh_elf(std::span<const uint8_t> image);

// Validates the header: signature, boot_flag 0xAA55, version >= 2.06,
// LOADED_HIGH, setup size and syssize against the file. Throws ImageError.
LinuxSetupHeader parse_bzimage_header(std::span<const uint8_t> image);

// Loads a bzImage or a PVH vmlinux with an optional initrd (empty: none) and
// command line; protocol = kLinux or kPvh. Throws ImageError naming what is
// wrong (header fields, a kernel or initrd that does not fit, a command line
// longer than cmdline_size, an ELF without the PVH note).
LoadedImage load_linux(std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                       const std::string& cmdline, GuestMemory& mem);

}  // namespace rrvm
