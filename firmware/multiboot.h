// Multiboot 1 loader (Multiboot Specification 0.6.96): finds the header,
// loads an ELF32/ELF64 image by its program headers or an a.out-kludge image
// by the header's addresses, and builds the boot information structure.
//
// Entry (spec 3.2, "Machine state"; the VMM does this with enter_multiboot):
// 32-bit protected mode, paging off, flat 4 GiB CS (execute/read) and
// DS/ES/FS/GS/SS (read/write), A20 on, IF clear, EAX = 0x2BADB002,
// EBX = LoadedImage::info_addr (0x8000).
//
// Guest memory written (firmware/boot_layout.h):
//   0x8000  multiboot_info, 88 bytes (spec 3.3)
//   0x8100  memory map from build_e820(): size-prefixed 24-byte entries
//   0x8800  module list, 16 bytes per module (at most 128)
//   0x9000  strings up to 0x20000: "rrvm", the command line, module strings
//   modules themselves go page-aligned after the kernel's highest byte.
// Info flags set: MEM (bit 0), CMDLINE (2), MODS (3, also with no module),
// MMAP (6), BOOT_LOADER_NAME (9). Not provided: boot_device, ELF section
// headers (bit 5), drives, config table, APM, VBE and framebuffer.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "devices/guest_memory.h"
#include "firmware/boot_layout.h"
#include "firmware/elf.h"

namespace rrvm {

struct MultibootModule {
  std::vector<uint8_t> bytes;
  std::string string;  // the module's command line (rrvm passes its file name)
};

struct MultibootOptions {
  std::string cmdline;
  std::vector<MultibootModule> modules;
};

constexpr uint32_t kMultibootMagic = 0x1BADB002;      // in the image header
constexpr uint32_t kMultibootBootMagic = 0x2BADB002;  // in EAX at entry

// The header fields (spec 3.1), as found in the image.
struct MultibootHeader {
  uint64_t offset = 0;  // file offset of the magic
  uint32_t flags = 0;
  // Valid when flags bit 16 (a.out kludge) is set.
  uint32_t header_addr = 0, load_addr = 0, load_end_addr = 0, bss_end_addr = 0, entry_addr = 0;
};

// True when the magic 0x1BADB002 appears 4-byte aligned in the first 8192
// bytes, even with a bad checksum (load_multiboot then says what is wrong).
bool is_multiboot(std::span<const uint8_t> image);

// The first header with a valid checksum; ImageError when there is none
// (naming the checksum of the first magic found) or the header is truncated.
MultibootHeader find_multiboot_header(std::span<const uint8_t> image);

// Loads the kernel and modules and writes the boot information. Throws
// ImageError naming what is wrong: bad checksum, required flag bits rrvm
// cannot honour (bits 3-15; bit 2, video mode, is accepted with a warning in
// LoadedImage::warnings and no video information), inconsistent a.out-kludge
// addresses, segments below 1 MiB or outside RAM, modules that do not fit,
// an entry point outside the loaded image or above 4 GiB.
// protocol = kMultiboot, long_mode_entry = false.
LoadedImage load_multiboot(std::span<const uint8_t> image, const MultibootOptions& opts,
                           GuestMemory& mem);

}  // namespace rrvm
