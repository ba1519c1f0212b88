// ELF32/ELF64 parsing for guest kernels (System V gABI 4.1 and its 64-bit
// supplement: "ELF Header", "Program Header", "Note Section", "Symbol
// Table"). Every offset and length in the file is checked before it is used:
// a malformed image is an ImageError naming the field, never a read outside
// the buffer. Also home of LoadedImage, the result every loader returns.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "devices/guest_memory.h"
#include "firmware/boot_layout.h"

namespace rrvm {

// How the VMM must enter a loaded image (register conventions are in the
// header of each loader: multiboot.h, linux_boot.h, and load_elf64 below).
enum class BootProtocol {
  kMultiboot,  // 32-bit protected mode, EAX = 0x2BADB002, EBX = info_addr
  kElf64,      // 64-bit mode, identity-mapped, no boot information
  kLinux,      // Linux boot protocol: RSI (64-bit) or ESI (32-bit) = zero page
  kPvh,        // PVH: 32-bit protected mode, EBX = hvm_start_info
};

// What a loader put where, and how to enter it.
struct LoadedImage {
  BootProtocol protocol = BootProtocol::kElf64;
  uint64_t entry = 0;            // physical address of the first instruction
  uint32_t info_addr = 0;        // Multiboot info / Linux zero page / hvm_start_info
  bool long_mode_entry = false;  // enter in 64-bit mode (else 32-bit protected mode)
  uint64_t kernel_end = 0;       // first byte after the highest loaded kernel byte
  std::vector<std::pair<uint64_t, uint64_t>> segments;  // (address, size) loaded
  std::vector<std::string> warnings;                    // things requested but not honoured
};

struct ElfSegment {
  uint64_t paddr, vaddr, offset, filesz, memsz;
  unsigned index;           // position in the program header table, for messages
  bool executable = false;  // p_flags PF_X
};

struct ElfImage {
  bool is64 = false;
  uint16_t type = 0;
  uint16_t machine = 0;
  uint64_t entry = 0;             // e_entry as written in the file
  std::vector<ElfSegment> loads;  // PT_LOAD with p_memsz > 0, in table order
  std::vector<ElfSegment> notes;  // PT_NOTE
};

struct ElfNote {
  std::string name;  // owner, without the terminating NUL ("Xen", "GNU")
  uint32_t type = 0;
  std::span<const uint8_t> desc;
};

enum class SymbolType { kFunction, kObject, kOther /* STT_NOTYPE: assembly labels */ };

struct Symbol {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  SymbolType type = SymbolType::kOther;
};

bool is_elf(std::span<const uint8_t> image);

// Validates the ELF header and program headers (x86 only: EM_386 or
// EM_X86_64, ET_EXEC or ET_DYN). Throws ImageError.
ElfImage parse_elf(std::span<const uint8_t> image);

// Copies the PT_LOAD segments to their physical addresses (p_paddr) and
// zeroes their bss (p_memsz > p_filesz). Refuses, naming the segment, any
// segment below 1 MiB that is not inside one of `low_windows` (boot data
// lives there, firmware/boot_layout.h), not inside usable E820 RAM, or
// overlapping another segment. Appends to out.segments and raises
// out.kernel_end.
void load_elf_segments(std::span<const uint8_t> image, const ElfImage& elf, GuestMemory& mem,
                       LoadedImage& out, std::span<const MemRange> low_windows = {});

// Throws ImageError naming `what` when [addr, addr + len) starts below
// 1 MiB outside every one of `low_windows`, or is not in usable E820 RAM.
void check_kernel_placement(const std::string& what, uint64_t addr, uint64_t len,
                            std::span<const MemRange> low_windows, uint64_t ram);

// e_entry as a physical address: itself when it lies in a segment's physical
// range, else translated through the segment whose virtual range holds it
// (kernels linked high with AT() load addresses, as GRUB 2 does). ImageError
// when it is in no loaded segment.
uint64_t elf_physical_entry(const ElfImage& elf);

// A plain ELF64 kernel without Multiboot header, entered at its physical
// entry point in 64-bit mode with the first 4 GiB identity-mapped
// (vmm/x86_boot.h: enter_long_mode, RSI = 0). protocol = kElf64.
LoadedImage load_elf64(std::span<const uint8_t> image, GuestMemory& mem);

// The notes in the image's PT_NOTE segments. Throws ImageError.
std::vector<ElfNote> elf_notes(std::span<const uint8_t> image, const ElfImage& elf);

// Defined function, object and untyped (assembly label) symbols from .symtab,
// or .dynsym when there is no .symtab, sorted by value; empty when the image
// has no symbol table. For ELF32 and ELF64. Throws ImageError for a
// malformed section header or symbol table.
std::vector<Symbol> elf_symbols(std::span<const uint8_t> image);

}  // namespace rrvm
