// Multiboot 1 loader (Multiboot Specification 0.6.96): finds the header,
// loads an ELF32/ELF64 image by its program headers or an a.out-kludge image
// by the header's addresses, and builds the boot information structure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "devices/guest_memory.h"
#include "firmware/elf.h"

namespace rrvm {

struct MultibootModule {
  std::vector<uint8_t> bytes;
  std::string string;  // the module's command line (we pass its file name)
};

struct MultibootOptions {
  std::string cmdline;
  std::vector<MultibootModule> modules;
};

// Where the loader puts the boot information (all in conventional memory,
// below the EBDA at 0x9FC00 and above the BIOS data area):
//   0x8000  multiboot_info (Multiboot 0.6.96, 3.3)
//   0x8100  memory map entries (size-prefixed, 24 bytes each)
//   0x8800  module list (16 bytes per module)
//   0x9000  boot loader name, kernel command line, module strings
// Modules themselves go page-aligned after the kernel's highest segment.
constexpr uint32_t kMultibootInfoAddr = 0x8000;
constexpr uint32_t kMultibootMagic = 0x1BADB002;      // in the image header
constexpr uint32_t kMultibootBootMagic = 0x2BADB002;  // in EAX at entry

bool is_multiboot(std::span<const uint8_t> image);
// Throws ImageError naming what is wrong (bad checksum, unsupported flags,
// segments outside RAM, truncated image).
LoadedImage load_multiboot(std::span<const uint8_t> image, const MultibootOptions& opts,
                           GuestMemory& mem);

}  // namespace rrvm
