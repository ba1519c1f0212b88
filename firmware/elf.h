// ELF32/ELF64 parsing for guest kernels (System V gABI, "ELF Header",
// "Program Header", "Symbol Table"). Every offset and length in the file is
// checked before it is used: a malformed image is an ImageError naming the
// field, never a read outside the buffer.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "devices/guest_memory.h"

namespace rrvm {

struct ElfSegment {
  uint64_t paddr, vaddr, offset, filesz, memsz;
};

struct ElfImage {
  bool is64 = false;
  uint16_t machine = 0;
  uint64_t entry = 0;
  std::vector<ElfSegment> loads;  // PT_LOAD only
};

struct Symbol {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  bool function = false;
};

// What a loader put where, and how to enter it.
struct LoadedImage {
  uint64_t entry = 0;
  uint32_t info_addr = 0;        // Multiboot info / Linux zero page
  bool long_mode_entry = false;  // enter in 64-bit mode (else 32-bit protected)
  uint64_t kernel_end = 0;       // first byte after the highest segment
  std::vector<std::pair<uint64_t, uint64_t>> segments;  // (address, size) loaded
};

bool is_elf(std::span<const uint8_t> image);
// Throws ImageError.
ElfImage parse_elf(std::span<const uint8_t> image);
// Copies the PT_LOAD segments to their physical addresses and zeroes their
// bss; throws ImageError naming the segment when one falls outside RAM.
void load_elf_segments(std::span<const uint8_t> image, const ElfImage& elf, GuestMemory& mem,
                       LoadedImage& out);
// A plain ELF64 kernel entered at e_entry in 64-bit mode.
LoadedImage load_elf64(std::span<const uint8_t> image, GuestMemory& mem);
// Function and object symbols from .symtab (empty when stripped).
std::vector<Symbol> elf_symbols(std::span<const uint8_t> image);

}  // namespace rrvm
