// The x86-64 register set rrvm shows gdb: the target description XML served
// by qXfer:features:read (gdb manual, "Target Descriptions") and the 'g'/'p'
// register encodings, both made from one table so they cannot disagree.
//
// Features, in register-number order: gdb's own org.gnu.gdb.i386.core
// (GPRs, rip, eflags, selectors, x87), .sse (xmm0-15, mxcsr) and .segments
// (fs_base, gs_base) as in gdb's features/i386/64bit-*.xml, then
// org.rrvm.x86.control (cr0, cr2, cr3, cr4, cr8, efer, with their bits
// named; gdb 13's x86 register groups put them in `info registers`).
//
// The architecture is always i386:x86-64, also while the guest runs 32-bit
// code: gdb reads the description once per connection, and the guest
// switches to long mode after connecting. `<compatible>i386</compatible>`
// lets gdb accept it when the user loaded an ELF32 image (Multiboot kernels
// are often linked 64-bit and converted to elf32-i386); without it gdb
// rejects the description and fails on the 'g' reply.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "replay/debug_target.h"

namespace rrvm::gdb {

// target.xml, complete (no xi:include).
const std::string& target_xml();

size_t register_count();

// The body of a 'g' reply: every register in order, little-endian hex, "xx"
// per byte of a register the target does not have (the x87/SSE ones when
// DebugRegisters::fpu is empty).
std::string encode_registers(const DebugRegisters& regs);

// The body of a 'p' reply for register `regnum`; nullopt past the last one.
std::optional<std::string> encode_register(const DebugRegisters& regs, size_t regnum);

// The full 16-bit x87 tag word (2 bits per physical register: 00 valid,
// 01 zero, 10 special, 11 empty) from FXSAVE's abridged one (1 = not empty)
// and the register contents, as gdb shows it in `ftag` (SDM vol. 1, 8.1.7;
// vol. 2, FXSAVE).
uint16_t full_tag_word(const FpuRegisters& fpu);

}  // namespace rrvm::gdb
