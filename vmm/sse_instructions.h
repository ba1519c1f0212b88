// The SSE2/SSSE3 integer instructions rrvm completes for KVM.
//
// On nested PVM every guest ring-0 instruction goes through KVM's
// instruction emulator, which knows movdqa/movdqu but not the rest of SSE:
// Linux's blake2s_compress_ssse3 (arch/x86/crypto/blake2s-core.S, the
// RNG's hash, run while the kernel unpacks its initramfs) stops at its
// first `movd %ecx, %xmm15`. rrvm decodes and executes the integer subset
// that code and its kind use (moves between XMM registers, general
// registers and memory; packed add/sub, logic, compares, shuffles, unpacks,
// shifts by an immediate) exactly as the SDM vol. 2 describes each one.
// None of them reads or writes MXCSR flags: integer SSE raises no SIMD
// floating-point exception. Legacy (non-VEX) encodings, 64-bit mode only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "vmm/kvm.h"

namespace rrvm {

using Xmm = std::array<uint8_t, 16>;
using XmmFile = std::array<Xmm, 16>;

// A memory operand in 64-bit mode (SDM vol. 2A, 2.2.1: ModRM, SIB, REX.X/B,
// RIP-relative): seg:[base + index * scale + disp], registers numbered as in
// ModRM (0 rax ... 15 r15), kNoReg where absent.
constexpr uint8_t kNoReg = 0xff;
struct MemOperand {
  uint8_t base = kNoReg, index = kNoReg, scale = 1;
  int32_t disp = 0;
  bool rip_relative = false;  // disp is from the next instruction
  uint8_t seg = 0;            // 0x64 (FS) or 0x65 (GS) override, else 0
  friend bool operator==(const MemOperand&, const MemOperand&) = default;
};

// ModRM (+ SIB + displacement) of a memory operand in 64-bit mode; the
// bytes it took, or 0 when they are missing.
size_t decode_mem_operand(std::span<const uint8_t> b, uint8_t rex, MemOperand* m);

// The linear address of a memory operand; FS and GS bases come from `s`
// (in 64-bit mode the other segments' bases are 0). `length` is the whole
// instruction's, for RIP-relative operands.
uint64_t operand_address(const MemOperand& m, uint8_t length, const kvm_regs& r,
                         const kvm_sregs& s);

// General register `n` in ModRM order; const or not as `r` is.
template <class Regs>
auto* gpr(Regs& r, uint8_t n) {
  std::array regs = {&r.rax, &r.rcx, &r.rdx, &r.rbx, &r.rsp, &r.rbp, &r.rsi, &r.rdi,
                     &r.r8,  &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15};
  return regs[n & 15];
}

enum class SseOp : uint8_t {
  kMovdTo,     // 66 [W] 0F 6E: r/m32 (r/m64) to xmm, upper bits zeroed
  kMovdFrom,   // 66 [W] 0F 7E: xmm to r/m32 (r/m64)
  kMovqLoad,   // F3 0F 7E: xmm/m64 to xmm, upper half zeroed
  kMovqStore,  // 66 0F D6: xmm to xmm/m64 (a register destination's upper half zeroed)
  kLoad,       // 66 0F 6F movdqa, F3 0F 6F movdqu: xmm/m128 to xmm
  kStore,      // 66 0F 7F movdqa, F3 0F 7F movdqu: xmm to xmm/m128
  kPmovmskb,   // 66 0F D7: the bytes' top bits to a general register
  kPshufd,     // 66 0F 70 ib
  kShiftImm,   // 66 0F 71/72/73 /n ib: psrl/psra/psll w/d/q, psrldq/pslldq
  kBinary,     // 66 0F xx (0F 38 00): xmm = xmm op xmm/m128
};

// A decoded instruction. `binary` says which packed operation for kBinary
// (and kShiftImm: the opcode and ModRM.reg select it).
struct SseInsn {
  SseOp op = SseOp::kBinary;
  uint8_t opcode = 0;     // the byte after 0F (0F 38 00: 0x00 with ssse3 set)
  bool ssse3 = false;     // 0F 38 map (pshufb)
  bool wide = false;      // REX.W: movd/movq on 64-bit general registers
  uint8_t reg = 0;        // ModRM.reg + REX.R: an XMM register (pmovmskb: a GPR)
  bool rm_is_reg = true;  // ModRM.mod == 3
  uint8_t rm = 0;         // ModRM.rm + REX.B when rm_is_reg
  uint8_t ext = 0;        // ModRM.reg of the 71/72/73 shift groups
  uint8_t imm = 0;
  bool aligned = false;   // an m128 operand must be 16-byte aligned (#GP(0) otherwise)
  uint8_t mem_bytes = 0;  // size of the memory operand
  MemOperand mem;
  friend bool operator==(const SseInsn&, const SseInsn&) = default;
};

// Decodes the instruction after its legacy prefixes and REX: `simd` is the
// mandatory prefix (0x66, 0xF3, 0xF2, or 0), `opcode` starts at 0F.
// Returns the bytes of opcode + ModRM + SIB + displacement + immediate, or
// nullopt (with the reason) for anything outside rrvm's subset.
std::optional<size_t> decode_sse(std::span<const uint8_t> opcode, uint8_t simd, uint8_t rex,
                                 SseInsn* out, std::string* why_not);

// What executing it needs: registers, and guest memory at linear addresses
// (false: not mapped, or not writable for a write).
struct SseMachine {
  kvm_regs& regs;
  XmmFile& xmm;
  std::function<bool(uint64_t, std::span<uint8_t>)> read;
  std::function<bool(uint64_t, std::span<const uint8_t>)> write;
};

enum class SseOutcome : uint8_t {
  kDone,
  kMisaligned,  // #GP(0): an aligned m128 operand that is not (SDM vol. 1, 4.1.1)
  kUnmapped,    // the memory operand is not there: rrvm leaves it to a crash report
};

// Executes `insn` whose memory operand (if any) is at linear address `at`.
// Nothing is changed unless the outcome is kDone.
SseOutcome execute_sse(const SseInsn& insn, uint64_t at, SseMachine& m);

}  // namespace rrvm
