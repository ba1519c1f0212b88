// Instructions KVM's emulator cannot execute in guest ring 0 on some hosts
// (nested PVM: every ring-0 instruction is emulated), completed by rrvm.
//
// On KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION the instruction
// at RIP is decoded; int3, int n, fwait/wait, clac, stac and popcnt between
// registers, ldmxcsr and an integer subset of SSE2/SSSE3
// (vmm/sse_instructions.h) are done here exactly as the CPU does them (Intel
// SDM vol. 2: INT n/INT3, WAIT/FWAIT, CLAC, STAC, POPCNT, LDMXCSR, ...), through
// KVM_SET_REGS, KVM_SET_XSAVE and KVM_SET_VCPU_EVENTS. Anything else stays a crash report.
// A completion depends only on guest state, so it is a natural exit like an
// I/O exit: recorded, and repeated and checked by replay at the same exit.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include "devices/guest_memory.h"
#include "vmm/run_result.h"
#include "vmm/sse_instructions.h"
#include "vmm/vcpu.h"

namespace rrvm {

enum class CompletedInsn : uint8_t {
  kInt3 = 0,
  kFwait = 1,
  kClac = 2,
  kStac = 3,
  kPopcnt = 4,
  kLdmxcsr = 5,
  kSse = 6,   // vmm/sse_instructions.h
  kIntN = 7,  // int imm8 (CD ib)
  kX87 = 8    // fnclex, emms, fild m32int (X87Op)
};
constexpr int kCompletedInsnKinds = 9;

// The x87 instructions of Linux's FXSAVE-leak workaround, "fnclex; emms;
// fildl" before restoring a task's FPU state (restore_fpregs_from_fpstate).
enum class X87Op : uint8_t { kFnclex, kEmms, kFild32 };

const char* to_string(CompletedInsn insn);

constexpr uint8_t kNoVector = 0xff;

// What the CPU would have done.
struct Completion {
  CompletedInsn insn = CompletedInsn::kInt3;
  uint8_t length = 0;           // bytes, prefixes included
  uint8_t vector = kNoVector;   // exception raised, or kNoVector
  bool fault = false;           // the exception is a fault: RIP stays on the instruction
  bool has_error_code = false;  // #GP from int3 through a gate of too low a DPL
  uint32_t error_code = 0;
  std::optional<bool> ac;  // clac/stac: the new RFLAGS.AC
  // popcnt: destination and source register (0 rax ... 15 r15, the ModRM
  // order) and the operand size in bytes (2, 4 or 8).
  uint8_t dst_reg = 0, src_reg = 0, op_bytes = 0;
  MemOperand mem;  // ldmxcsr: where the new MXCSR is read from
  SseInsn sse;     // the SSE instruction
  X87Op x87 = X87Op::kFnclex;
  uint8_t modrm = 0;  // fild's ModRM byte (part of the x87 opcode FOP)
  // SSE instructions right after it, completed in the same exit (see
  // InstructionCompleter::complete): how many, and their bytes.
  uint32_t run = 0, run_bytes = 0;
  friend bool operator==(const Completion&, const Completion&) = default;
};

// The guest state the outcome depends on.
struct CompletionContext {
  bool protected_mode = true;  // CR0.PE
  bool mode64 = true;          // IA-32e mode with CS.L: REX prefixes exist
  bool v86 = false;            // RFLAGS.VM
  uint8_t cpl = 0;
  bool cr0_ts = false, cr0_mp = false;
  uint16_t fsw = 0;        // x87 status word
  bool smap = false;       // CPUID.(EAX=7,ECX=0):EBX.SMAP[20] in the guest's table
  uint8_t gate_dpl = 0;    // DPL of the IDT entry int3 (3) or int n (n) goes through
  bool cr0_em = false;     // x87/SSE instructions raise #UD
  bool cr4_osfxsr = true;  // SSE instructions allowed (else #UD)
};

// Decodes `code`, the bytes at RIP. Nullopt, with the reason in `why_not`,
// for an instruction rrvm does not complete or a case it leaves to a crash
// report (an unmasked x87 exception pending at fwait, int3 in real mode).
std::optional<Completion> plan_completion(std::span<const uint8_t> code,
                                          const CompletionContext& ctx, std::string* why_not);

// What a planned popcnt does to the registers: the destination gets the
// count of the source's bits, RFLAGS.ZF says whether the source was zero.
void apply_popcnt(const Completion& c, kvm_regs& r);

// MXCSR bits 31:16 are reserved: loading one raises #GP(0) (SDM vol. 2A,
// LDMXCSR; MXCSR_MASK of every CPU KVM runs on covers at most bits 15:0).
constexpr uint32_t kMxcsrReserved = 0xffff0000u;

// Completions by kind, for the run, record and replay summaries.
using CompletionCounts = std::array<uint64_t, kCompletedInsnKinds>;
static_assert(std::is_same_v<CompletionCounts, decltype(RunResult::completions)>);
// "int3 3, fwait 1" (kinds with a zero count left out); empty when none.
std::string describe_completions(const CompletionCounts& counts);

// KVM_SET_VCPU_EVENTS as `c` leaves the vCPU: its exception (if any)
// injected, to be delivered at the next entry, and no interrupt shadow after
// a trap. Also how a machine checkpoint puts back a #BP that had not gone in
// yet: KVM_GET_VCPU_EVENTS never reports soft exceptions (#BP, #OF), as it
// cannot tell their instruction length (arch/x86/kvm/x86.c), so they are
// not in a saved vCPU state.
void set_completion_events(Vcpu& vcpu, const Completion& c);

class InstructionCompleter {
 public:
  InstructionCompleter(Vcpu& vcpu, GuestMemory& mem) : vcpu_(vcpu), mem_(mem) {}
  // Reads the vCPU and the instruction at RIP and, if rrvm completes it,
  // changes the vCPU as the instruction would have. `rip` gets the RIP of
  // the instruction; `why_not` says why nothing was done. An SSE
  // instruction takes the SSE instructions after it along (Completion::run,
  // at most kMaxSseRun): one exit for a run instead of one each.
  std::optional<Completion> complete(uint64_t* rip, std::string* why_not);

  // Bounds the time one exit spends here. Code is straight-line between
  // branches, which rrvm does not complete, so runs end long before.
  static constexpr uint32_t kMaxSseRun = 4096;

 private:
  CompletionContext context(const kvm_regs& r, const kvm_sregs& s, std::span<const uint8_t> opcode);
  bool load_mxcsr(Completion& c, const kvm_regs& r, const kvm_sregs& s, std::string* why_not);
  bool run_sse(Completion& c, kvm_regs& r, const kvm_sregs& s, std::string* why_not);
  bool run_x87(Completion& c, const kvm_regs& r, const kvm_sregs& s, std::string* why_not);
  void run_following_sse(Completion& c, kvm_regs& r, const kvm_sregs& s, XmmFile& xmm);
  // Guest memory at a linear address, through the guest's page tables,
  // page by page; false when a page is not mapped (or not writable).
  bool read_linear(uint64_t va, std::span<uint8_t> out) const;
  bool write_linear(uint64_t va, std::span<const uint8_t> in);
  void apply(const Completion& c, kvm_regs r);

  Vcpu& vcpu_;
  GuestMemory& mem_;
  std::optional<bool> smap_;  // read from the vCPU's CPUID table once
};

}  // namespace rrvm
