#include "vmm/instruction_completion.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>

#include "vmm/cpu_dump.h"
#include "vmm/cpu_features.h"
#include "vmm/x86_arch.h"

namespace rrvm {

namespace {

constexpr uint8_t kBp = 3, kUd = 6, kNm = 7, kGp = 13;
constexpr uint16_t kFswEs = 1u << 7;  // x87 error summary: an unmasked exception is pending
constexpr size_t kMaxLength = 15;     // SDM vol. 2A, 2.3.11

struct Decoded {
  size_t length = 0;  // of prefixes and opcode
  bool lock = false;
  bool mandatory = false;  // 66, F2 or F3: these select other instructions after 0F 01
  bool opsize = false;     // 66: 16-bit operands
  bool rep = false;        // F3: selects POPCNT after 0F B8
  uint8_t simd = 0;        // the SSE mandatory prefix: F3 or F2 over 66 (SDM vol. 2A, 2.1.2)
  uint8_t rex = 0;         // the REX prefix in 64-bit mode, or 0
  uint8_t seg = 0;         // 0x64 / 0x65: FS / GS override
  std::span<const uint8_t> opcode;
};

// Legacy prefixes (SDM vol. 2A, 2.1.1), then a REX prefix in 64-bit mode.
Decoded decode_prefixes(std::span<const uint8_t> code, bool mode64) {
  Decoded d;
  size_t i = 0;
  for (; i < code.size() && i < kMaxLength; ++i) {
    uint8_t b = code[i];
    if (b == 0xf0) {
      d.lock = true;
    } else if (b == 0x66 || b == 0xf2 || b == 0xf3) {
      d.mandatory = true;
      d.opsize |= b == 0x66;
      d.rep |= b == 0xf3;
      if (b != 0x66 || d.simd == 0) d.simd = b;
    } else if (b == 0x64 || b == 0x65) {
      d.seg = b;
    } else if (b != 0x2e && b != 0x36 && b != 0x3e && b != 0x26 && b != 0x67) {
      break;
    }
  }
  if (mode64 && i < code.size() && (code[i] & 0xf0) == 0x40) d.rex = code[i++];
  d.length = i;
  d.opcode = code.subspan(std::min(i, code.size()));
  return d;
}

Completion fault(CompletedInsn insn, uint8_t vector) {
  Completion c;
  c.insn = insn;
  c.vector = vector;
  c.fault = true;
  return c;
}

// INT3 (CC) and INT n (CD ib) (SDM vol. 2A, INT n/INTO/INT3/INT1): a
// software interrupt through IDT entry `vector`, returning to the next
// instruction; #GP with an error code naming the entry (IDT bit 1 set, EXT
// clear) when the gate's DPL is below CPL. INT3's #BP goes in as an
// exception, INT n's vector as an interrupt injected after the instruction
// (set_completion_events): a fault while delivering INT n (a gate or stack
// not present) is reported at the next instruction, not at the INT.
std::optional<Completion> plan_software_interrupt(const Decoded& d, CompletedInsn insn,
                                                  const CompletionContext& ctx,
                                                  std::string* why_not) {
  const bool int3 = insn == CompletedInsn::kInt3;
  const char* name = int3 ? "int3" : "int n";
  size_t opcode_bytes = int3 ? 1 : 2;
  if (d.opcode.size() < opcode_bytes) {
    *why_not = "int n with its vector byte missing";
    return std::nullopt;
  }
  if (d.lock) return fault(insn, kUd);
  if (!ctx.protected_mode || ctx.v86) {
    *why_not = std::string(name) + " outside protected mode";
    return std::nullopt;
  }
  uint8_t vector = int3 ? kBp : d.opcode[1];
  if (ctx.gate_dpl < ctx.cpl) {
    Completion c = fault(insn, kGp);
    c.has_error_code = true;
    c.error_code = uint32_t(vector) * 8 + 2;
    return c;
  }
  Completion c;
  c.insn = insn;
  c.length = uint8_t(d.length + opcode_bytes);
  c.vector = vector;
  return c;
}

// The memory operand whose ModRM byte is at d.opcode[modrm_at]: sets
// c.mem and c.length, or says that its bytes are missing.
bool take_mem_operand(const Decoded& d, size_t modrm_at, const char* name, Completion& c,
                      std::string* why_not) {
  size_t n = decode_mem_operand(d.opcode.subspan(modrm_at), d.rex, &c.mem);
  if (n == 0) {
    *why_not = std::string(name) + " with its operand bytes missing";
    return false;
  }
  c.mem.seg = d.seg;
  c.length = uint8_t(d.length + modrm_at + n);
  return true;
}

// FNCLEX (DB E2), EMMS (0F 77) and FILD m32int (DB /0), as SDM vol. 2
// describes them: #NM with CR0.EM or CR0.TS (EMMS: #UD with CR0.EM), #UD
// with LOCK. A pending x87 exception (#MF) and a stack overflow are left to
// a crash report (InstructionCompleter::run_x87).
std::optional<Completion> plan_x87(const Decoded& d, X87Op op, const CompletionContext& ctx,
                                   std::string* why_not) {
  if (d.lock) return fault(CompletedInsn::kX87, kUd);
  if (op == X87Op::kEmms && ctx.cr0_em) return fault(CompletedInsn::kX87, kUd);
  if (ctx.cr0_em || ctx.cr0_ts) return fault(CompletedInsn::kX87, kNm);
  Completion c;
  c.insn = CompletedInsn::kX87;
  c.x87 = op;
  c.length = uint8_t(d.length + 2);
  if (op != X87Op::kFild32) return c;
  c.modrm = d.opcode[1];
  if (!take_mem_operand(d, 1, "fild", c, why_not)) return std::nullopt;
  return c;
}

std::optional<Completion> plan_fwait(const Decoded& d, const CompletionContext& ctx,
                                     std::string* why_not) {
  if (d.lock) return fault(CompletedInsn::kFwait, kUd);
  if (ctx.cr0_ts && ctx.cr0_mp) return fault(CompletedInsn::kFwait, kNm);
  if (ctx.fsw & kFswEs) {
    // #MF or FERR#, depending on CR0.NE: not modelled.
    char b[96];
    std::snprintf(b, sizeof b, "fwait with an unmasked x87 exception pending (FSW 0x%04x)",
                  ctx.fsw);
    *why_not = b;
    return std::nullopt;
  }
  Completion c;
  c.insn = CompletedInsn::kFwait;
  c.length = uint8_t(d.length + 1);
  return c;
}

// CLAC/STAC: #UD with LOCK, in virtual-8086 mode, at CPL > 0 in protected
// mode, or without SMAP in CPUID; else RFLAGS.AC = 0 / 1.
std::optional<Completion> plan_ac(const Decoded& d, bool set, const CompletionContext& ctx) {
  CompletedInsn insn = set ? CompletedInsn::kStac : CompletedInsn::kClac;
  if (d.lock || ctx.v86 || !ctx.smap || (ctx.protected_mode && ctx.cpl > 0))
    return fault(insn, kUd);
  Completion c;
  c.insn = insn;
  c.length = uint8_t(d.length + 3);
  c.ac = set;
  return c;
}

// POPCNT r, r/m (F3 [REX] 0F B8 /r): only the register form, which is what
// kernels emit (Linux's __arch_hweight*: popcnt %rdi, %rax). The count is
// taken in apply(), from the registers. rrvm does not check CPUID.POPCNT:
// it completes the instruction only where KVM failed it, on hosts that show
// the guest POPCNT whatever rrvm's table says.
std::optional<Completion> plan_popcnt(const Decoded& d, std::string* why_not) {
  if (d.lock) return fault(CompletedInsn::kPopcnt, kUd);
  if (d.opcode.size() < 3) {
    *why_not = "popcnt without its ModRM byte";
    return std::nullopt;
  }
  uint8_t modrm = d.opcode[2];
  if (modrm >> 6 != 3) {
    *why_not = "popcnt with a memory operand";
    return std::nullopt;
  }
  Completion c;
  c.insn = CompletedInsn::kPopcnt;
  c.length = uint8_t(d.length + 3);
  c.dst_reg = uint8_t((d.rex & 4) << 1 | (modrm >> 3 & 7));  // REX.R extends ModRM.reg
  c.src_reg = uint8_t((d.rex & 1) << 3 | (modrm & 7));       // REX.B extends ModRM.rm
  c.op_bytes = (d.rex & 8) ? 8 : d.opsize ? 2 : 4;
  return c;
}

// LDMXCSR m32 (0F AE /2, no mandatory prefix), 64-bit mode only: what
// Linux's kernel_fpu_begin runs in ring 0.
std::optional<Completion> plan_ldmxcsr(const Decoded& d, const CompletionContext& ctx,
                                       std::string* why_not) {
  if (!ctx.mode64) {
    *why_not = "ldmxcsr outside 64-bit mode";
    return std::nullopt;
  }
  if (d.lock || ctx.cr0_em || !ctx.cr4_osfxsr) return fault(CompletedInsn::kLdmxcsr, kUd);
  if (ctx.cr0_ts) return fault(CompletedInsn::kLdmxcsr, kNm);
  Completion c;
  c.insn = CompletedInsn::kLdmxcsr;
  if (!take_mem_operand(d, 2, "ldmxcsr", c, why_not)) return std::nullopt;
  return c;
}

// The SSE subset (vmm/sse_instructions.h), 64-bit mode only. #UD with
// LOCK, CR0.EM or without CR4.OSFXSR; #NM with CR0.TS (SDM vol. 1, 13.1 /
// vol. 3A, 2.5). Like popcnt, CPUID is not checked: rrvm completes only
// what the guest ran because the host shows it the feature.
std::optional<Completion> plan_sse(const Decoded& d, const CompletionContext& ctx,
                                   std::string* why_not) {
  if (!ctx.mode64) {
    *why_not = "SSE outside 64-bit mode";
    return std::nullopt;
  }
  Completion c;
  c.insn = CompletedInsn::kSse;
  std::optional<size_t> n = decode_sse(d.opcode, d.simd, d.rex, &c.sse, why_not);
  if (!n) return std::nullopt;
  if (d.lock || ctx.cr0_em || !ctx.cr4_osfxsr) return fault(CompletedInsn::kSse, kUd);
  if (ctx.cr0_ts) return fault(CompletedInsn::kSse, kNm);
  c.sse.mem.seg = d.seg;
  c.length = uint8_t(d.length + *n);
  return c;
}

}  // namespace

void apply_popcnt(const Completion& c, kvm_regs& r) {
  // Writing a 32-bit register zeroes bits 63:32; a 16-bit one keeps them
  // (SDM vol. 1, 3.4.1.1).
  uint64_t mask = c.op_bytes == 8 ? ~0ull : c.op_bytes == 4 ? 0xffffffffull : 0xffffull;
  uint64_t src = *gpr(r, c.src_reg) & mask;
  uint64_t count = uint64_t(std::popcount(src));
  auto* dst = gpr(r, c.dst_reg);
  *dst = c.op_bytes == 2 ? (*dst & ~0xffffull) | count : count;
  // OF, SF, AF, CF, PF cleared; ZF set when the source is 0 (SDM vol. 2B, POPCNT).
  constexpr uint64_t kArith = 0x8d5;  // CF PF AF ZF SF OF
  constexpr uint64_t kZf = 1u << 6;
  r.rflags = (r.rflags & ~kArith) | (src == 0 ? kZf : 0);
}

const char* to_string(CompletedInsn insn) {
  static constexpr const char* kNames[] = {"int3",    "fwait", "clac", "stac", "popcnt",
                                           "ldmxcsr", "sse",   "int",  "x87"};
  auto i = static_cast<size_t>(insn);
  return i < kCompletedInsnKinds ? kNames[i] : "?";
}

std::optional<Completion> plan_completion(std::span<const uint8_t> code,
                                          const CompletionContext& ctx, std::string* why_not) {
  Decoded d = decode_prefixes(code, ctx.mode64);
  std::span<const uint8_t> op = d.opcode;
  if (op.empty() || d.length >= kMaxLength) {
    *why_not = "instruction bytes not readable or longer than 15 bytes";
    return std::nullopt;
  }
  std::optional<Completion> c;
  if (op[0] == 0xcc) {
    c = plan_software_interrupt(d, CompletedInsn::kInt3, ctx, why_not);
  } else if (op[0] == 0xcd) {
    c = plan_software_interrupt(d, CompletedInsn::kIntN, ctx, why_not);
  } else if (op.size() >= 2 && op[0] == 0xdb && op[1] == 0xe2) {
    c = plan_x87(d, X87Op::kFnclex, ctx, why_not);
  } else if (op.size() >= 2 && op[0] == 0xdb && (op[1] >> 3 & 7) == 0 && op[1] >> 6 != 3) {
    c = plan_x87(d, X87Op::kFild32, ctx, why_not);
  } else if (op.size() >= 2 && op[0] == 0x0f && op[1] == 0x77 && !d.mandatory) {
    c = plan_x87(d, X87Op::kEmms, ctx, why_not);
  } else if (op[0] == 0x9b) {
    c = plan_fwait(d, ctx, why_not);
  } else if (op.size() >= 3 && op[0] == 0x0f && op[1] == 0x01 && (op[2] == 0xca || op[2] == 0xcb) &&
             !d.mandatory) {
    c = plan_ac(d, op[2] == 0xcb, ctx);
  } else if (op.size() >= 2 && op[0] == 0x0f && op[1] == 0xb8 && d.rep) {
    c = plan_popcnt(d, why_not);
  } else if (op.size() >= 3 && op[0] == 0x0f && op[1] == 0xae && (op[2] >> 3 & 7) == 2 &&
             op[2] >> 6 != 3 && !d.mandatory) {
    c = plan_ldmxcsr(d, ctx, why_not);
  } else if (op[0] == 0x0f && d.simd != 0) {
    c = plan_sse(d, ctx, why_not);
  } else {
    *why_not =
        "not an instruction rrvm completes (int3, int n, fwait, fnclex, emms, fild m32, clac, "
        "stac, popcnt, ldmxcsr, integer SSE)";
  }
  if (c && c->length > kMaxLength) {
    *why_not = "instruction longer than 15 bytes";
    return std::nullopt;
  }
  return c;
}

std::string describe_completions(const CompletionCounts& counts) {
  std::string out;
  for (int i = 0; i < kCompletedInsnKinds; ++i) {
    if (!counts[i]) continue;
    out += (out.empty() ? "" : ", ") + std::string(to_string(CompletedInsn(i))) + " " +
           std::to_string(counts[i]);
  }
  return out;
}

// Reads only what the instruction at hand depends on: the x87 status word
// for fwait, the #BP gate for int3 (each costs KVM ioctls, and Linux's
// blake2s runs thousands of SSE instructions through here).
CompletionContext InstructionCompleter::context(const kvm_regs& r, const kvm_sregs& s,
                                                std::span<const uint8_t> opcode) {
  uint8_t op = opcode.empty() ? 0 : opcode[0];
  CompletionContext ctx;
  ctx.protected_mode = s.cr0 & kCr0Pe;
  ctx.mode64 = in_64bit_mode(s);
  ctx.v86 = r.rflags & kRflagsVm;
  // CPL is CS.RPL in protected mode (SDM vol. 3A, 5.5); 0 in real mode.
  ctx.cpl = ctx.protected_mode ? s.cs.selector & 3 : 0;
  ctx.cr0_ts = s.cr0 & kCr0Ts;
  ctx.cr0_mp = s.cr0 & kCr0Mp;
  ctx.cr0_em = s.cr0 & kCr0Em;
  ctx.cr4_osfxsr = s.cr4 & kCr4Osfxsr;
  if (op == 0x9b) ctx.fsw = vcpu_.get_fx().fsw;
  if (!smap_) {
    const CpuFeature* f = find_cpu_feature("smap");
    smap_ = has_feature(vcpu_.get_cpuid(), *f);
  }
  ctx.smap = *smap_;
  // The IDT entry of int3 (3) or int n (n): 16-byte gates in IA-32e mode,
  // 8-byte ones in protected mode; the DPL is bits 45-46 of either. An
  // entry rrvm cannot read is left to KVM's delivery (which raises what the
  // CPU would).
  ctx.gate_dpl = 3;
  if (op != 0xcc && !(op == 0xcd && opcode.size() >= 2)) return ctx;
  uint8_t vector = op == 0xcc ? kBp : opcode[1];
  uint64_t gate = s.idt.base + ((s.efer & kEferLma) ? 16 : 8) * uint64_t(vector);
  uint8_t access = 0;
  if (read_guest_code(vcpu_, mem_, gate + 5, {&access, 1}) == size_t(1))
    ctx.gate_dpl = access >> 5 & 3;
  return ctx;
}

std::optional<Completion> InstructionCompleter::complete(uint64_t* rip, std::string* why_not) {
  kvm_regs r = vcpu_.get_regs();
  kvm_sregs s = vcpu_.get_sregs();
  *rip = r.rip;
  // CS.base is 0 in 64-bit mode; elsewhere EIP is an offset into CS.
  bool mode64 = in_64bit_mode(s);
  uint64_t linear = mode64 ? r.rip : s.cs.base + (r.rip & 0xffffffff);
  std::array<uint8_t, kMaxLength> code{};
  size_t n = read_guest_code(vcpu_, mem_, linear, code).value_or(0);
  std::span<const uint8_t> bytes(code.data(), n);
  std::span<const uint8_t> op = decode_prefixes(bytes, mode64).opcode;
  std::optional<Completion> c = plan_completion(bytes, context(r, s, op), why_not);
  if (c && c->insn == CompletedInsn::kLdmxcsr && !c->fault && !load_mxcsr(*c, r, s, why_not))
    return std::nullopt;
  if (c && c->insn == CompletedInsn::kSse && !c->fault && !run_sse(*c, r, s, why_not))
    return std::nullopt;
  if (c && c->insn == CompletedInsn::kX87 && !c->fault && !run_x87(*c, r, s, why_not))
    return std::nullopt;
  if (c) apply(*c, r);
  return c;
}

// Reads ldmxcsr's operand and loads it, or turns `c` into the #GP a
// reserved bit raises. An operand rrvm cannot read (a #PF the CPU would
// raise) is left to a crash report.
bool InstructionCompleter::load_mxcsr(Completion& c, const kvm_regs& r, const kvm_sregs& s,
                                      std::string* why_not) {
  uint64_t at = operand_address(c.mem, c.length, r, s);
  std::array<uint8_t, 4> b{};
  if (!read_linear(at, b)) {
    char m[96];
    std::snprintf(m, sizeof m, "ldmxcsr operand at 0x%llx is not mapped", (unsigned long long)at);
    *why_not = m;
    return false;
  }
  uint32_t mxcsr = uint32_t(b[0]) | b[1] << 8 | b[2] << 16 | uint32_t(b[3]) << 24;
  if (mxcsr & kMxcsrReserved) {
    c = fault(CompletedInsn::kLdmxcsr, kGp);
    c.has_error_code = true;
    return true;
  }
  vcpu_.set_mxcsr(mxcsr);
  return true;
}

namespace {

constexpr uint16_t kFswExceptions = 0x80ff;  // IE DE ZE OE UE PE, SF, ES and B
constexpr uint16_t kFswC1 = 1u << 9;
constexpr int kFswTopShift = 11;

// A 32-bit integer as an x87 80-bit extended value: the host's long double
// is that format on x86-64, and every int32 converts exactly.
std::array<uint8_t, 10> to_extended(int32_t v) {
  static_assert(std::numeric_limits<long double>::digits == 64, "x87 extended long double");
  long double e = v;
  std::array<uint8_t, 10> out{};
  std::memcpy(out.data(), &e, out.size());
  return out;
}

}  // namespace

// FNCLEX clears the exception flags, ES, SF and B; EMMS empties every
// register (abridged tag word 0); FILD m32int pushes the integer: TOP
// decremented, ST0 loaded and tagged, C1 cleared, FOP/FIP/FDP set (SDM
// vol. 1, 8.1.8). Faults rrvm does not model are left to a crash report:
// an unmasked exception pending (#MF) at EMMS or FILD, and FILD onto a
// register in use (stack overflow).
bool InstructionCompleter::run_x87(Completion& c, const kvm_regs& r, const kvm_sregs& s,
                                   std::string* why_not) {
  Vcpu::X87State x = vcpu_.get_x87();
  if (c.x87 != X87Op::kFnclex && (x.fsw & kFswEs)) {
    *why_not = "x87 instruction with an unmasked x87 exception pending";
    return false;
  }
  if (c.x87 == X87Op::kFnclex) {
    x.fsw &= ~kFswExceptions;
  } else if (c.x87 == X87Op::kEmms) {
    x.ftw = 0;
  } else {
    uint64_t at = operand_address(c.mem, c.length, r, s);
    std::array<uint8_t, 4> b{};
    if (!read_linear(at, b)) {
      *why_not = "fild operand is not mapped";
      return false;
    }
    unsigned top = ((x.fsw >> kFswTopShift & 7u) - 1) & 7u;
    if (x.ftw >> top & 1) {
      *why_not = "fild onto an x87 register in use (stack overflow)";
      return false;
    }
    int32_t v;
    std::memcpy(&v, b.data(), sizeof v);
    for (int i = 7; i > 0; --i) x.st[i] = x.st[i - 1];
    x.st[0] = to_extended(v);
    x.fsw = uint16_t((x.fsw & ~(7u << kFswTopShift) & ~kFswC1) | top << kFswTopShift);
    x.ftw = uint8_t(x.ftw | 1u << top);
    x.fop = uint16_t((0xdb & 7) << 8 | c.modrm);
    x.fip = r.rip;
    x.fdp = at;
  }
  vcpu_.set_x87(x);
  return true;
}

// Executes a planned SSE instruction on the vCPU's XMM registers, its
// general registers `r` (applied with RIP by apply()) and guest memory; a
// misaligned m128 operand turns `c` into #GP(0). An operand rrvm cannot
// reach (a #PF the CPU would raise) is left to a crash report.
bool InstructionCompleter::run_sse(Completion& c, kvm_regs& r, const kvm_sregs& s,
                                   std::string* why_not) {
  uint64_t at = operand_address(c.sse.mem, c.length, r, s);
  Vcpu::FxState fx = vcpu_.get_fx();
  const auto xmm_before = fx.xmm;
  kvm_regs after = r;
  SseMachine m{after, fx.xmm,
               [this](uint64_t va, std::span<uint8_t> out) { return read_linear(va, out); },
               [this](uint64_t va, std::span<const uint8_t> in) { return write_linear(va, in); }};
  switch (execute_sse(c.sse, at, m)) {
    case SseOutcome::kMisaligned:
      c = fault(CompletedInsn::kSse, kGp);
      c.has_error_code = true;
      return true;
    case SseOutcome::kUnmapped: {
      char b[96];
      std::snprintf(b, sizeof b, "SSE operand at 0x%llx is not mapped", (unsigned long long)at);
      *why_not = b;
      return false;
    }
    case SseOutcome::kDone:
      break;
  }
  run_following_sse(c, after, s, fx.xmm);
  if (fx.xmm != xmm_before) vcpu_.set_fx(fx);  // stores and moves to GPRs leave XMM alone
  r = after;
  return true;
}

// The SSE instructions after `c`, executed on `r` and `xmm` while each is
// one rrvm completes without a fault and its operand is in RAM; the first
// that is not is left to KVM (and, if it fails there too, to the next
// exit). Linux's blake2s_compress_ssse3 is runs of ~30 SSE instructions
// between movzbl loads: each cost an exit and 8-10 ioctls; a run costs one.
// The run depends only on guest state, so replay repeats it exactly. `r`
// keeps `c`'s RIP (apply() moves it past the run).
void InstructionCompleter::run_following_sse(Completion& c, kvm_regs& r, const kvm_sregs& s,
                                             XmmFile& xmm) {
  const uint64_t first_rip = r.rip;
  static constexpr uint8_t kTwoByte[] = {0x0f};
  const CompletionContext ctx = context(r, s, kTwoByte);
  SseMachine m{r, xmm, [this](uint64_t va, std::span<uint8_t> out) { return read_linear(va, out); },
               [this](uint64_t va, std::span<const uint8_t> in) { return write_linear(va, in); }};
  r.rip = first_rip + c.length;
  while (c.run < kMaxSseRun) {
    std::array<uint8_t, kMaxLength> code{};
    size_t n = read_guest_code(vcpu_, mem_, r.rip, code).value_or(0);
    std::string ignored;
    std::optional<Completion> next = plan_completion({code.data(), n}, ctx, &ignored);
    if (!next || next->insn != CompletedInsn::kSse || next->fault) break;
    uint64_t at = operand_address(next->sse.mem, next->length, r, s);
    if (execute_sse(next->sse, at, m) != SseOutcome::kDone) break;  // changed nothing
    r.rip += next->length;
    c.run += 1;
    c.run_bytes += next->length;
  }
  r.rip = first_rip;
}

bool InstructionCompleter::read_linear(uint64_t va, std::span<uint8_t> out) const {
  while (!out.empty()) {
    size_t n = std::min<size_t>(out.size(), 4096 - va % 4096);
    uint64_t gpa = 0;
    if (!vcpu_.translate(va, &gpa) || !mem_.read(gpa, out.first(n))) return false;
    out = out.subspan(n);
    va += n;
  }
  return true;
}

// Translates every page before writing any, so a write that would fault
// leaves memory as it was. Stores are at most 16 bytes: two pages at most.
// KVM_TRANSLATE walks the tables for a read (it reports every page as
// writable), so a store to a read-only page is not refused here where the
// CPU would raise #PF; the kernels rrvm completes SSE for do not do that.
bool InstructionCompleter::write_linear(uint64_t va, std::span<const uint8_t> in) {
  std::array<uint64_t, 2> gpas{};
  size_t first = std::min<size_t>(in.size(), 4096 - va % 4096);
  if (in.size() > 16 || !vcpu_.translate(va, &gpas[0])) return false;
  if (first < in.size() && !vcpu_.translate(va + first, &gpas[1])) return false;
  if (!mem_.write(gpas[0], in.first(first))) return false;
  return first == in.size() || mem_.write(gpas[1], in.subspan(first));
}

// A trap or a completed instruction ends a MOV SS/STI interrupt shadow, as
// executing the instruction would; a fault leaves the vCPU on it.
void InstructionCompleter::apply(const Completion& c, kvm_regs r) {
  if (!c.fault) r.rip += c.length + c.run_bytes;
  if (c.ac) r.rflags = *c.ac ? r.rflags | kRflagsAc : r.rflags & ~kRflagsAc;
  if (c.insn == CompletedInsn::kPopcnt && !c.fault) apply_popcnt(c, r);
  vcpu_.set_regs(r);
  set_completion_events(vcpu_, c);
}

void set_completion_events(Vcpu& vcpu, const Completion& c) {
  kvm_vcpu_events e = vcpu.get_events();
  if (c.insn == CompletedInsn::kIntN && !c.fault) {
    // An interrupt, not an exception: vectors 32-255 are not exceptions
    // to KVM, and no error code goes with INT n whatever its vector.
    e.interrupt.injected = 1;
    e.interrupt.nr = c.vector;
    e.interrupt.soft = 0;  // RIP is already past the INT
  } else if (c.vector != kNoVector) {
    e.exception.injected = 1;
    e.exception.pending = 0;
    e.exception.nr = c.vector;
    e.exception.has_error_code = c.has_error_code;
    e.exception.error_code = c.error_code;
  }
  if (!c.fault) e.interrupt.shadow = 0;
  vcpu.set_events(e);
}

}  // namespace rrvm
