// What rrvm does for an instruction KVM could not emulate, decided from the
// bytes at RIP and the guest state alone (Intel SDM vol. 2A: INT3,
// WAIT/FWAIT, CLAC, STAC), without KVM.
#include "vmm/instruction_completion.h"

#include <gtest/gtest.h>

#include <vector>

namespace rrvm {
namespace {

std::optional<Completion> plan(std::vector<uint8_t> code, CompletionContext ctx = {},
                               std::string* why = nullptr) {
  std::string scratch;
  return plan_completion(code, ctx, why ? why : &scratch);
}

TEST(Int3, RaisesBreakpointAsATrapAfterTheInstruction) {
  auto c = plan({0xcc, 0x90});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->insn, CompletedInsn::kInt3);
  EXPECT_EQ(c->vector, 3);
  EXPECT_FALSE(c->fault);
  EXPECT_EQ(c->length, 1);
  EXPECT_FALSE(c->has_error_code);
  // Segment and operand-size prefixes do not change it, they lengthen it.
  EXPECT_EQ(plan({0x2e, 0x66, 0xcc})->length, 3);
}

TEST(Int3, ThroughAGateOfLowerDplIsAGeneralProtectionFault) {
  CompletionContext ring3;
  ring3.cpl = 3;
  ring3.gate_dpl = 0;
  auto c = plan({0xcc}, ring3);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->vector, 13);
  EXPECT_TRUE(c->fault);
  EXPECT_TRUE(c->has_error_code);
  EXPECT_EQ(c->error_code, 3u * 8 + 2) << "IDT entry 3, IDT bit set";
  ring3.gate_dpl = 3;
  EXPECT_EQ(plan({0xcc}, ring3)->vector, 3);
}

TEST(Int3, WithLockIsUndefinedAndInRealModeIsLeftAlone) {
  auto c = plan({0xf0, 0xcc});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->vector, 6);
  EXPECT_TRUE(c->fault);
  CompletionContext real;
  real.protected_mode = false;
  real.mode64 = false;
  std::string why;
  EXPECT_FALSE(plan({0xcc}, real, &why));
  EXPECT_EQ(why, "int3 outside protected mode");
}

TEST(IntN, RaisesItsVectorAfterTheInstruction) {
  auto c = plan({0xcd, 0x21});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->insn, CompletedInsn::kIntN);
  EXPECT_EQ(c->vector, 0x21);
  EXPECT_FALSE(c->fault);
  EXPECT_FALSE(c->has_error_code) << "INT n pushes no error code, whatever n";
  EXPECT_EQ(c->length, 2);
  EXPECT_EQ(plan({0x3e, 0xcd, 0x0e})->length, 3);
  EXPECT_EQ(plan({0xcd, 0x0e})->vector, 14);
  EXPECT_FALSE(plan({0xcd})) << "the vector byte is missing";
}

TEST(IntN, ThroughAGateOfLowerDplIsAGeneralProtectionFault) {
  CompletionContext ring3;
  ring3.cpl = 3;
  ring3.gate_dpl = 0;
  auto c = plan({0xcd, 0x80}, ring3);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->vector, 13);
  EXPECT_TRUE(c->fault);
  EXPECT_TRUE(c->has_error_code);
  EXPECT_EQ(c->error_code, 0x80u * 8 + 2) << "IDT entry 0x80, IDT bit set, EXT clear";
  ring3.gate_dpl = 3;
  EXPECT_EQ(plan({0xcd, 0x80}, ring3)->vector, 0x80);
  EXPECT_EQ(plan({0xf0, 0xcd, 0x80})->vector, 6) << "LOCK: #UD";
  CompletionContext real;
  real.protected_mode = false;
  EXPECT_FALSE(plan({0xcd, 0x10}, real)) << "real mode is left to a crash report";
}

TEST(Fwait, WithNothingPendingJustMovesOn) {
  auto c = plan({0x9b});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->insn, CompletedInsn::kFwait);
  EXPECT_EQ(c->vector, kNoVector);
  EXPECT_EQ(c->length, 1);
  CompletionContext masked;
  masked.fsw = 0x0001;  // invalid-operation flag, but masked: ES clear
  EXPECT_EQ(plan({0x9b}, masked)->vector, kNoVector);
}

TEST(Fwait, WithTsAndMpRaisesDeviceNotAvailable) {
  CompletionContext ctx;
  ctx.cr0_ts = ctx.cr0_mp = true;
  auto c = plan({0x9b}, ctx);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->vector, 7);
  EXPECT_TRUE(c->fault);
  ctx.cr0_mp = false;  // TS alone does not affect WAIT
  EXPECT_EQ(plan({0x9b}, ctx)->vector, kNoVector);
}

TEST(Fwait, WithAnUnmaskedX87ExceptionPendingIsLeftToACrashReport) {
  CompletionContext ctx;
  ctx.fsw = 0x0081;  // IE | ES
  std::string why;
  EXPECT_FALSE(plan({0x9b}, ctx, &why));
  EXPECT_EQ(why, "fwait with an unmasked x87 exception pending (FSW 0x0081)");
}

TEST(ClacStac, WithSmapAtCpl0SetAndClearAc) {
  CompletionContext ctx;
  ctx.smap = true;
  auto stac = plan({0x0f, 0x01, 0xcb}, ctx);
  ASSERT_TRUE(stac);
  EXPECT_EQ(stac->insn, CompletedInsn::kStac);
  EXPECT_EQ(stac->ac, std::optional<bool>(true));
  EXPECT_EQ(stac->length, 3);
  EXPECT_EQ(stac->vector, kNoVector);
  auto clac = plan({0x48, 0x0f, 0x01, 0xca}, ctx);  // a REX prefix is ignored
  ASSERT_TRUE(clac);
  EXPECT_EQ(clac->insn, CompletedInsn::kClac);
  EXPECT_EQ(clac->ac, std::optional<bool>(false));
  EXPECT_EQ(clac->length, 4);
}

TEST(ClacStac, AreUndefinedWithoutSmapAtCpl3WithLockOrInV86) {
  CompletionContext ctx;
  ctx.smap = true;
  auto ud = [&](std::vector<uint8_t> code, CompletionContext c) {
    auto r = plan(code, c);
    return r && r->vector == 6 && r->fault && !r->ac;
  };
  CompletionContext no_smap;
  EXPECT_TRUE(ud({0x0f, 0x01, 0xca}, no_smap));
  CompletionContext ring3 = ctx;
  ring3.cpl = 3;
  EXPECT_TRUE(ud({0x0f, 0x01, 0xcb}, ring3));
  EXPECT_TRUE(ud({0xf0, 0x0f, 0x01, 0xcb}, ctx));
  CompletionContext v86 = ctx;
  v86.v86 = true;
  EXPECT_TRUE(ud({0x0f, 0x01, 0xca}, v86));
  CompletionContext real = ctx;
  real.protected_mode = false;
  real.cpl = 3;  // no CPL in real mode: works with SMAP
  EXPECT_EQ(plan({0x0f, 0x01, 0xcb}, real)->ac, std::optional<bool>(true));
}

// F3 0F 01 CA is another instruction (ERETU); rrvm completes only the four.
TEST(Decode, LeavesEverythingElseToACrashReport) {
  CompletionContext ctx;
  ctx.smap = true;
  for (std::vector<uint8_t> code :
       std::vector<std::vector<uint8_t>>{{0xf3, 0x0f, 0x01, 0xca},
                                         {0xf0, 0x48, 0x0f, 0xc7, 0x0f},  // cmpxchg16b
                                         {0xf3, 0x0f, 0xb8, 0x03},        // popcnt (%rbx), %eax
                                         {0x0f, 0x01},
                                         {}}) {
    std::string why;
    EXPECT_FALSE(plan(code, ctx, &why)) << code.size();
    EXPECT_FALSE(why.empty());
  }
  std::vector<uint8_t> prefixes(15, 0x66);
  prefixes.push_back(0xcc);
  EXPECT_FALSE(plan(prefixes)) << "longer than 15 bytes";
  std::vector<uint8_t> stac(16, 0x2e);  // 13 CS overrides, then stac
  stac[13] = 0x0f, stac[14] = 0x01, stac[15] = 0xcb;
  EXPECT_FALSE(plan(stac, ctx)) << "16 bytes";
  stac.erase(stac.begin());
  EXPECT_EQ(plan(stac, ctx)->length, 15);
}

TEST(Decode, RexIsAPrefixOnlyIn64BitMode) {
  CompletionContext legacy;
  legacy.mode64 = false;
  EXPECT_FALSE(plan({0x48, 0xcc}, legacy)) << "0x48 is dec eax in 32-bit mode";
  EXPECT_EQ(plan({0x48, 0xcc})->length, 2);
}

// Linux's __arch_hweight64: popcnt %rdi, %rax = f3 48 0f b8 c7.
TEST(Popcnt, BetweenRegistersCountsBitsAndSetsZfOnlyForZero) {
  auto c = plan({0xf3, 0x48, 0x0f, 0xb8, 0xc7, 0xc3});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->insn, CompletedInsn::kPopcnt);
  EXPECT_EQ(c->length, 5);
  EXPECT_EQ(c->vector, kNoVector);
  kvm_regs r{};
  r.rdi = 0xf0f0'0000'0000'0001;
  r.rax = 123;
  r.rflags = 0x2 | 0x8d5;  // every arithmetic flag set
  apply_popcnt(*c, r);
  EXPECT_EQ(r.rax, 9u);
  EXPECT_EQ(r.rflags, 0x2u) << "OF SF ZF AF CF PF cleared";
  r.rdi = 0;
  apply_popcnt(*c, r);
  EXPECT_EQ(r.rax, 0u);
  EXPECT_EQ(r.rflags, 0x2u | 0x40) << "ZF: the source was zero";
}

TEST(Popcnt, OperandSizeAndRexExtendedRegisters) {
  // popcnt %r9d, %r10d = f3 45 0f b8 d1: 32 bits, REX.R and REX.B.
  auto c = plan({0xf3, 0x45, 0x0f, 0xb8, 0xd1});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->op_bytes, 4);
  kvm_regs r{};
  r.r9 = 0xffff'ffff'0000'0003;  // the upper half does not count
  r.r10 = ~0ull;
  apply_popcnt(*c, r);
  EXPECT_EQ(r.r10, 2u) << "a 32-bit destination is zero-extended";
  // popcnt %cx, %dx = 66 f3 0f b8 d1: 16 bits, the upper bits kept.
  c = plan({0x66, 0xf3, 0x0f, 0xb8, 0xd1});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->op_bytes, 2);
  r.rcx = 0x1'0007;
  r.rdx = 0xaaaa'0000'0000'ffff;
  apply_popcnt(*c, r);
  EXPECT_EQ(r.rdx, 0xaaaa'0000'0000'0003u);
}

TEST(Popcnt, MemoryOperandOrNoF3IsLeftAlone) {
  std::string why;
  EXPECT_FALSE(plan({0xf3, 0x48, 0x0f, 0xb8, 0x07}, {}, &why)) << "popcnt (%rdi), %rax";
  EXPECT_EQ(why, "popcnt with a memory operand");
  EXPECT_FALSE(plan({0x0f, 0xb8, 0xc7}, {}, &why)) << "0f b8 without f3 is jmpe (IA-64)";
  EXPECT_EQ(plan({0xf0, 0xf3, 0x0f, 0xb8, 0xc7})->vector, 6) << "lock: #UD";
}

// Linux's kernel_fpu_begin: ldmxcsr 0x4(%rsp) = 0f ae 54 24 04.
TEST(Ldmxcsr, DecodesItsMemoryOperand) {
  auto c = plan({0x0f, 0xae, 0x54, 0x24, 0x04, 0xc3});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->insn, CompletedInsn::kLdmxcsr);
  EXPECT_EQ(c->length, 5);
  EXPECT_FALSE(c->fault);
  kvm_regs r{};
  kvm_sregs s{};
  r.rsp = 0x1000;
  EXPECT_EQ(operand_address(c->mem, c->length, r, s), 0x1004u);
  // ldmxcsr %fs:(%r8,%rcx,4) = 64 41 0f ae 14 88: SIB, REX.B, FS base.
  c = plan({0x64, 0x41, 0x0f, 0xae, 0x14, 0x88});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->length, 6);
  r.r8 = 0x100;
  r.rcx = 3;
  s.fs.base = 0x7000;
  EXPECT_EQ(operand_address(c->mem, c->length, r, s), 0x710cu);
  // ldmxcsr 0x10(%rip) = 0f ae 15 10 00 00 00: from the next instruction.
  c = plan({0x0f, 0xae, 0x15, 0x10, 0x00, 0x00, 0x00});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->length, 7);
  r.rip = 0x2000;
  EXPECT_EQ(operand_address(c->mem, c->length, r, s), 0x2017u);
  // ldmxcsr -8(%rbp) = 0f ae 55 f8: a negative disp8.
  c = plan({0x0f, 0xae, 0x55, 0xf8});
  ASSERT_TRUE(c);
  r.rbp = 0x3000;
  EXPECT_EQ(operand_address(c->mem, c->length, r, s), 0x2ff8u);
}

TEST(Ldmxcsr, FaultsAsTheCpuDoes) {
  CompletionContext ctx;
  ctx.cr0_ts = true;
  EXPECT_EQ(plan({0x0f, 0xae, 0x54, 0x24, 0x04}, ctx)->vector, 7) << "#NM with CR0.TS";
  ctx = {};
  ctx.cr4_osfxsr = false;
  EXPECT_EQ(plan({0x0f, 0xae, 0x54, 0x24, 0x04}, ctx)->vector, 6) << "#UD without CR4.OSFXSR";
  std::string why;
  EXPECT_FALSE(plan({0x0f, 0xae, 0x54, 0x24}, {}, &why)) << "displacement missing";
  EXPECT_FALSE(plan({0x66, 0x0f, 0xae, 0x54, 0x24, 0x04}, {}, &why)) << "66: not ldmxcsr";
  EXPECT_FALSE(plan({0x0f, 0xae, 0xd0}, {}, &why)) << "register form: rdfsbase/wrfsbase";
}

// Linux's blake2s_compress_ssse3: movd %ecx, %xmm15 = 66 44 0f 6e f9.
TEST(Sse, PlansTheSubsetWithItsPrefixesAndFaults) {
  auto c = plan({0x66, 0x44, 0x0f, 0x6e, 0xf9, 0x4c});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->insn, CompletedInsn::kSse);
  EXPECT_EQ(c->length, 5);
  EXPECT_EQ(c->sse.op, SseOp::kMovdTo);
  EXPECT_EQ(c->sse.reg, 15);
  EXPECT_EQ(c->sse.rm, 1);
  // F3 wins over 66 whatever their order (movq xmm/m64, xmm).
  c = plan({0x66, 0xf3, 0x0f, 0x7e, 0xc1});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->sse.op, SseOp::kMovqLoad);
  // A GS override reaches the operand: pxor %gs:8(%rax), %xmm0.
  c = plan({0x65, 0x66, 0x0f, 0xef, 0x40, 0x08});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->length, 6);
  EXPECT_EQ(c->sse.mem.seg, 0x65);
  CompletionContext ctx;
  ctx.cr0_ts = true;
  EXPECT_EQ(plan({0x66, 0x0f, 0xfe, 0xc1}, ctx)->vector, 7) << "#NM with CR0.TS";
  ctx = {};
  ctx.cr4_osfxsr = false;
  EXPECT_EQ(plan({0x66, 0x0f, 0xfe, 0xc1}, ctx)->vector, 6) << "#UD without CR4.OSFXSR";
  ctx = {};
  ctx.cr0_em = true;
  EXPECT_EQ(plan({0x66, 0x0f, 0xfe, 0xc1}, ctx)->vector, 6) << "#UD with CR0.EM";
  EXPECT_EQ(plan({0xf0, 0x66, 0x0f, 0xfe, 0xc1})->vector, 6) << "lock: #UD";
  std::string why;
  ctx = {};
  ctx.mode64 = false;
  EXPECT_FALSE(plan({0x66, 0x0f, 0xfe, 0xc1}, ctx, &why));
  EXPECT_EQ(why, "SSE outside 64-bit mode");
  EXPECT_FALSE(plan({0x66, 0x0f, 0x58, 0xc1}, {}, &why)) << "addpd";
  EXPECT_EQ(why, "not one of the SSE instructions rrvm completes");
}

TEST(Counts, DescribeNamesTheKindsThatHappened) {
  CompletionCounts n{};
  EXPECT_EQ(describe_completions(n), "");
  n[size_t(CompletedInsn::kInt3)] = 3;
  n[size_t(CompletedInsn::kStac)] = 1;
  EXPECT_EQ(describe_completions(n), "int3 3, stac 1");
}

}  // namespace
}  // namespace rrvm
