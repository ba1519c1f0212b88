// Capstone disassembly of guest code around an address, for divergence and
// bisect reports.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rrvm {

struct DisassembledInsn {
  uint64_t addr = 0;
  std::string text;  // "mov eax, dword ptr [rbx + 4]"
  bool marked = false;
  uint8_t size = 0;  // bytes
};

// How the CPU decodes code: 16-bit, 32-bit (protected and compatibility
// mode) or 64-bit (long mode).
enum class CodeBits : uint8_t { k16 = 16, k32 = 32, k64 = 64 };
enum class AsmSyntax : uint8_t { kIntel, kAtt };

// Decodes up to `count` instructions from the start of `code` (loaded at
// `base`); stops early at bytes that are no instruction.
std::vector<DisassembledInsn> disassemble(std::span<const uint8_t> code, uint64_t base,
                                          size_t count, CodeBits bits = CodeBits::k64,
                                          AsmSyntax syntax = AsmSyntax::kIntel);

// Decodes `code` (loaded at `base`) from its start and returns up to
// `before` instructions ending before `mark`, the instruction at `mark`
// (marked) and up to `after` following ones. If decoding from `base` never
// lands on `mark`, decoding restarts at `mark` (nothing before it is shown).
std::vector<DisassembledInsn> disassemble_around(std::span<const uint8_t> code, uint64_t base,
                                                 uint64_t mark, int before = 4, int after = 3);

}  // namespace rrvm
