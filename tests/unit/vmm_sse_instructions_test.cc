// The SSE subset rrvm completes for KVM (vmm/sse_instructions.h), checked
// against the host CPU running the same instruction (SSE2/SSSE3 intrinsics)
// on random operands, and decoded from the bytes Linux's
// blake2s_compress_ssse3 (Debian 6.1 cloud kernel) is made of.
#include "vmm/sse_instructions.h"

#include <gtest/gtest.h>
#include <immintrin.h>

#include <cstring>
#include <random>
#include <vector>

namespace rrvm {
namespace {

Xmm from(__m128i v) {
  Xmm x;
  std::memcpy(x.data(), &v, 16);
  return x;
}

__m128i to(const Xmm& x) {
  __m128i v;
  std::memcpy(&v, x.data(), 16);
  return v;
}

Xmm random_xmm(std::mt19937_64& rng) {
  Xmm x;
  for (auto& b : x) b = uint8_t(rng());
  return x;
}

// A flat guest memory at linear addresses [0x1000, 0x3000).
struct FakeMemory {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(0x2000);
  bool read(uint64_t va, std::span<uint8_t> out) const {
    if (va < 0x1000 || va + out.size() > 0x3000) return false;
    std::memcpy(out.data(), bytes.data() + (va - 0x1000), out.size());
    return true;
  }
  bool write(uint64_t va, std::span<const uint8_t> in) {
    if (va < 0x1000 || va + in.size() > 0x3000) return false;
    std::memcpy(bytes.data() + (va - 0x1000), in.data(), in.size());
    return true;
  }
};

struct Cpu {
  kvm_regs regs{};
  XmmFile xmm{};
  FakeMemory mem;
  SseMachine machine() {
    return SseMachine{
        regs, xmm, [this](uint64_t va, std::span<uint8_t> out) { return mem.read(va, out); },
        [this](uint64_t va, std::span<const uint8_t> in) { return mem.write(va, in); }};
  }
  // Decodes `code` (from the 0F byte on, after prefix `simd` and `rex`),
  // and executes it with its memory operand at `at`.
  SseOutcome run(std::vector<uint8_t> code, uint8_t simd = 0x66, uint8_t rex = 0, uint64_t at = 0) {
    SseInsn in;
    std::string why;
    if (!decode_sse(code, simd, rex, &in, &why)) {
      ADD_FAILURE() << "not decoded: " << why;
      return SseOutcome::kUnmapped;
    }
    SseMachine m = machine();
    return execute_sse(in, at, m);
  }
};

using Host = __m128i (*)(__m128i, __m128i);

__attribute__((target("ssse3"))) __m128i host_pshufb(__m128i a, __m128i b) {
  return _mm_shuffle_epi8(a, b);
}

// Every packed binary operation, register form: op %xmm2, %xmm1 (ModRM 0xca).
struct Binary {
  uint8_t op;
  Host host;
};
const Binary kBinary[] = {
    {0x60, [](__m128i a, __m128i b) { return _mm_unpacklo_epi8(a, b); }},
    {0x61, [](__m128i a, __m128i b) { return _mm_unpacklo_epi16(a, b); }},
    {0x62, [](__m128i a, __m128i b) { return _mm_unpacklo_epi32(a, b); }},
    {0x6c, [](__m128i a, __m128i b) { return _mm_unpacklo_epi64(a, b); }},
    {0x68, [](__m128i a, __m128i b) { return _mm_unpackhi_epi8(a, b); }},
    {0x69, [](__m128i a, __m128i b) { return _mm_unpackhi_epi16(a, b); }},
    {0x6a, [](__m128i a, __m128i b) { return _mm_unpackhi_epi32(a, b); }},
    {0x6d, [](__m128i a, __m128i b) { return _mm_unpackhi_epi64(a, b); }},
    {0x64, [](__m128i a, __m128i b) { return _mm_cmpgt_epi8(a, b); }},
    {0x65, [](__m128i a, __m128i b) { return _mm_cmpgt_epi16(a, b); }},
    {0x66, [](__m128i a, __m128i b) { return _mm_cmpgt_epi32(a, b); }},
    {0x74, [](__m128i a, __m128i b) { return _mm_cmpeq_epi8(a, b); }},
    {0x75, [](__m128i a, __m128i b) { return _mm_cmpeq_epi16(a, b); }},
    {0x76, [](__m128i a, __m128i b) { return _mm_cmpeq_epi32(a, b); }},
    {0xfc, [](__m128i a, __m128i b) { return _mm_add_epi8(a, b); }},
    {0xfd, [](__m128i a, __m128i b) { return _mm_add_epi16(a, b); }},
    {0xfe, [](__m128i a, __m128i b) { return _mm_add_epi32(a, b); }},
    {0xd4, [](__m128i a, __m128i b) { return _mm_add_epi64(a, b); }},
    {0xf8, [](__m128i a, __m128i b) { return _mm_sub_epi8(a, b); }},
    {0xf9, [](__m128i a, __m128i b) { return _mm_sub_epi16(a, b); }},
    {0xfa, [](__m128i a, __m128i b) { return _mm_sub_epi32(a, b); }},
    {0xfb, [](__m128i a, __m128i b) { return _mm_sub_epi64(a, b); }},
    {0xdb, [](__m128i a, __m128i b) { return _mm_and_si128(a, b); }},
    {0xdf, [](__m128i a, __m128i b) { return _mm_andnot_si128(a, b); }},
    {0xeb, [](__m128i a, __m128i b) { return _mm_or_si128(a, b); }},
    {0xef, [](__m128i a, __m128i b) { return _mm_xor_si128(a, b); }},
};

TEST(SseInstructions, PackedOperationsComputeWhatTheHostCpuDoes) {
  std::mt19937_64 rng(12);
  for (const auto& [op, host] : kBinary) {
    for (int i = 0; i < 200; ++i) {
      Cpu cpu;
      Xmm a = random_xmm(rng), b = random_xmm(rng);
      // Equal lanes now and then, so the compares see both answers.
      for (size_t j = 0; j < 16; ++j)
        if (rng() % 3 == 0) b[j] = a[j];
      cpu.xmm[1] = a;
      cpu.xmm[2] = b;
      ASSERT_EQ(cpu.run({0x0f, op, 0xca}), SseOutcome::kDone);
      ASSERT_EQ(cpu.xmm[1], from(host(to(a), to(b)))) << "opcode 0x" << std::hex << int(op);
      ASSERT_EQ(cpu.xmm[2], b) << "the source is not written";
    }
  }
}

TEST(SseInstructions, PshufbComputesWhatTheHostCpuDoes) {
  std::mt19937_64 rng(13);
  for (int i = 0; i < 500; ++i) {
    Cpu cpu;
    Xmm a = random_xmm(rng), b = random_xmm(rng);
    cpu.xmm[3] = a;
    cpu.xmm[12] = b;
    // pshufb %xmm12, %xmm3 = 66 41 0f 38 00 dc (blake2s).
    ASSERT_EQ(cpu.run({0x0f, 0x38, 0x00, 0xdc}, 0x66, 0x41), SseOutcome::kDone);
    ASSERT_EQ(cpu.xmm[3], from(host_pshufb(to(a), to(b))));
  }
}

TEST(SseInstructions, ShiftsByImmediateComputeWhatTheHostCpuDoes) {
  std::mt19937_64 rng(14);
  struct Shift {
    uint8_t op, ext;
    __m128i (*host)(__m128i, __m128i);
  };
  const Shift shifts[] = {
      {0x71, 2, [](__m128i a, __m128i c) { return _mm_srl_epi16(a, c); }},
      {0x71, 4, [](__m128i a, __m128i c) { return _mm_sra_epi16(a, c); }},
      {0x71, 6, [](__m128i a, __m128i c) { return _mm_sll_epi16(a, c); }},
      {0x72, 2, [](__m128i a, __m128i c) { return _mm_srl_epi32(a, c); }},
      {0x72, 4, [](__m128i a, __m128i c) { return _mm_sra_epi32(a, c); }},
      {0x72, 6, [](__m128i a, __m128i c) { return _mm_sll_epi32(a, c); }},
      {0x73, 2, [](__m128i a, __m128i c) { return _mm_srl_epi64(a, c); }},
      {0x73, 6, [](__m128i a, __m128i c) { return _mm_sll_epi64(a, c); }},
  };
  for (const Shift& s : shifts) {
    for (uint8_t count : {0, 1, 7, 12, 15, 16, 20, 25, 31, 32, 63, 64, 200, 255}) {
      Cpu cpu;
      Xmm a = random_xmm(rng);
      cpu.xmm[8] = a;
      // e.g. pslld $0x14, %xmm8 = 66 41 0f 72 f0 14 (blake2s).
      uint8_t modrm = uint8_t(0xc0 | s.ext << 3 | 0);
      ASSERT_EQ(cpu.run({0x0f, s.op, modrm, count}, 0x66, 0x41), SseOutcome::kDone);
      ASSERT_EQ(cpu.xmm[8], from(s.host(to(a), _mm_cvtsi32_si128(count))))
          << "opcode 0x" << std::hex << int(s.op) << " /" << int(s.ext) << " count " << std::dec
          << int(count);
    }
  }
}

TEST(SseInstructions, ByteShiftsShuffleAndMaskComputeWhatTheHostCpuDoes) {
  std::mt19937_64 rng(15);
  Xmm a = random_xmm(rng);
  auto run1 = [&](std::vector<uint8_t> code) {
    Cpu cpu;
    cpu.xmm[2] = a;
    EXPECT_EQ(cpu.run(code), SseOutcome::kDone);
    return cpu;
  };
  EXPECT_EQ(run1({0x0f, 0x73, 0xda, 3}).xmm[2], from(_mm_srli_si128(to(a), 3)));    // psrldq
  EXPECT_EQ(run1({0x0f, 0x73, 0xfa, 5}).xmm[2], from(_mm_slli_si128(to(a), 5)));    // pslldq
  EXPECT_EQ(run1({0x0f, 0x73, 0xda, 16}).xmm[2], from(_mm_srli_si128(to(a), 16)));  // all out
  // pshufd $0x39/$0x4e/$0x93, %xmm2, %xmm1 (the rotations blake2s uses).
  EXPECT_EQ(run1({0x0f, 0x70, 0xca, 0x39}).xmm[1], from(_mm_shuffle_epi32(to(a), 0x39)));
  EXPECT_EQ(run1({0x0f, 0x70, 0xca, 0x4e}).xmm[1], from(_mm_shuffle_epi32(to(a), 0x4e)));
  EXPECT_EQ(run1({0x0f, 0x70, 0xca, 0x93}).xmm[1], from(_mm_shuffle_epi32(to(a), 0x93)));
  // pmovmskb %xmm2, %ecx: every bit of rcx written, the upper ones zero.
  Cpu cpu;
  cpu.xmm[2] = a;
  cpu.regs.rcx = ~0ull;
  ASSERT_EQ(cpu.run({0x0f, 0xd7, 0xca}), SseOutcome::kDone);
  EXPECT_EQ(cpu.regs.rcx, uint64_t(uint32_t(_mm_movemask_epi8(to(a)))));
}

TEST(SseInstructions, MovdAndMovqMoveBetweenXmmGeneralRegistersAndMemory) {
  Cpu cpu;
  cpu.xmm[15] = from(_mm_set1_epi8(0x55));
  cpu.regs.rcx = 0x1122334455667788;
  // movd %ecx, %xmm15 = 66 44 0f 6e f9: the instruction the Debian kernel
  // stopped at. The upper 96 bits are zeroed.
  ASSERT_EQ(cpu.run({0x0f, 0x6e, 0xf9}, 0x66, 0x44), SseOutcome::kDone);
  EXPECT_EQ(cpu.xmm[15], from(_mm_cvtsi32_si128(0x55667788)));
  // movq %rcx, %xmm15 (REX.W).
  ASSERT_EQ(cpu.run({0x0f, 0x6e, 0xf9}, 0x66, 0x4c), SseOutcome::kDone);
  EXPECT_EQ(cpu.xmm[15], from(_mm_cvtsi64_si128(0x1122334455667788)));
  // movd %xmm15, %eax zeroes bits 63:32 of rax; movq %xmm15, %rax takes 64.
  cpu.regs.rax = ~0ull;
  ASSERT_EQ(cpu.run({0x0f, 0x7e, 0xf8}, 0x66, 0x44), SseOutcome::kDone);
  EXPECT_EQ(cpu.regs.rax, 0x55667788u);
  ASSERT_EQ(cpu.run({0x0f, 0x7e, 0xf8}, 0x66, 0x4c), SseOutcome::kDone);
  EXPECT_EQ(cpu.regs.rax, 0x1122334455667788u);
  // movd (%rsi,%rax,4), %xmm4 = 66 0f 6e 24 86 reads 4 bytes there.
  for (int i = 0; i < 32; ++i) cpu.mem.bytes[0x100 + size_t(i)] = uint8_t(i);
  cpu.xmm[4] = from(_mm_set1_epi8(-1));
  SseInsn in;
  std::string why;
  ASSERT_EQ(decode_sse(std::vector<uint8_t>{0x0f, 0x6e, 0x24, 0x86}, 0x66, 0, &in, &why), 4u);
  kvm_regs r{};
  kvm_sregs s{};
  r.rsi = 0x1100;
  r.rax = 2;
  uint64_t at = operand_address(in.mem, 5, r, s);
  EXPECT_EQ(at, 0x1108u);
  SseMachine m = cpu.machine();
  ASSERT_EQ(execute_sse(in, at, m), SseOutcome::kDone);
  EXPECT_EQ(cpu.xmm[4], from(_mm_cvtsi32_si128(0x0b0a0908)));
  // movq %xmm4, (%rax) = 66 0f d6 20 writes 8 bytes; movq (%rax), %xmm5 =
  // f3 0f 7e 28 reads them back with the upper half zeroed.
  cpu.xmm[4] = from(_mm_set_epi64x(0x7777, 0x0102030405060708));
  ASSERT_EQ(cpu.run({0x0f, 0xd6, 0x20}, 0x66, 0, 0x2000), SseOutcome::kDone);
  EXPECT_EQ(cpu.mem.bytes[0x1000], 0x08);
  EXPECT_EQ(cpu.mem.bytes[0x1008], 0x00) << "only 8 bytes stored";
  cpu.xmm[5] = from(_mm_set1_epi8(-1));
  ASSERT_EQ(cpu.run({0x0f, 0x7e, 0x28}, 0xf3, 0, 0x2000), SseOutcome::kDone);
  EXPECT_EQ(cpu.xmm[5], from(_mm_set_epi64x(0, 0x0102030405060708)));
}

TEST(SseInstructions, AlignedMemoryOperandsFaultWhenMisalignedAndNothingChanges) {
  Cpu cpu;
  cpu.xmm[3] = from(_mm_set1_epi32(7));
  Xmm before = cpu.xmm[3];
  // pxor 0x10(%rip), %xmm3 = 66 0f ef 1d 10 00 00 00 with the operand at 0x1008.
  EXPECT_EQ(cpu.run({0x0f, 0xef, 0x1d, 0x10, 0, 0, 0}, 0x66, 0, 0x1008), SseOutcome::kMisaligned);
  EXPECT_EQ(cpu.xmm[3], before);
  // movdqu (f3 0f 6f) takes any address; movdqa (66 0f 6f) does not.
  EXPECT_EQ(cpu.run({0x0f, 0x6f, 0x18}, 0xf3, 0, 0x1008), SseOutcome::kDone);
  EXPECT_EQ(cpu.run({0x0f, 0x6f, 0x18}, 0x66, 0, 0x1008), SseOutcome::kMisaligned);
  // An operand outside memory: nothing written, left to a crash report.
  cpu.xmm[3] = before;
  EXPECT_EQ(cpu.run({0x0f, 0xef, 0x18}, 0x66, 0, 0x9000), SseOutcome::kUnmapped);
  EXPECT_EQ(cpu.xmm[3], before);
  EXPECT_EQ(cpu.run({0x0f, 0x7f, 0x18}, 0x66, 0, 0x9000), SseOutcome::kUnmapped);
}

TEST(SseInstructions, DecodesLengthsOfTheKernelsEncodings) {
  struct Case {
    std::vector<uint8_t> bytes;  // as in the kernel, prefixes included
    size_t length;
  };
  const Case cases[] = {
      {{0x66, 0x44, 0x0f, 0x6e, 0xf9}, 5},                    // movd %ecx,%xmm15
      {{0x66, 0x0f, 0x6e, 0x24, 0x86}, 5},                    // movd (%rsi,%rax,4),%xmm4
      {{0x66, 0x45, 0x0f, 0xd4, 0xf7}, 5},                    // paddq %xmm15,%xmm14
      {{0x66, 0x0f, 0xef, 0x1d, 0x4c, 0x8d, 0x25, 0x01}, 8},  // pxor 0x1258d4c(%rip),%xmm3
      {{0x66, 0x41, 0x0f, 0x38, 0x00, 0xdc}, 6},              // pshufb %xmm12,%xmm3
      {{0x66, 0x0f, 0x70, 0xd2, 0x39}, 5},                    // pshufd $0x39,%xmm2,%xmm2
      {{0x66, 0x41, 0x0f, 0x72, 0xf0, 0x14}, 6},              // pslld $0x14,%xmm8
      {{0x66, 0x0f, 0x6c, 0xe6}, 4},                          // punpcklqdq %xmm6,%xmm4
      {{0x66, 0x0f, 0x7f, 0x44, 0x24, 0x10}, 6},              // movdqa %xmm0,0x10(%rsp)
  };
  for (const Case& c : cases) {
    size_t prefixes = (c.bytes[1] & 0xf0) == 0x40 ? 2 : 1;
    SseInsn in;
    std::string why;
    std::span<const uint8_t> op(c.bytes.data() + prefixes, c.bytes.size() - prefixes);
    std::optional<size_t> n = decode_sse(op, c.bytes[0], prefixes == 2 ? c.bytes[1] : 0, &in, &why);
    ASSERT_TRUE(n) << why;
    EXPECT_EQ(*n + prefixes, c.length);
    // Cut anywhere: not decoded, never read past the end.
    for (size_t cut = 0; cut < op.size(); ++cut)
      EXPECT_FALSE(decode_sse(op.first(cut), c.bytes[0], 0, &in, &why)) << cut;
  }
}

TEST(SseInstructions, LeavesOutWhatItDoesNotDo) {
  SseInsn in;
  std::string why;
  auto decodes = [&](std::vector<uint8_t> op, uint8_t simd) {
    return decode_sse(op, simd, 0, &in, &why).has_value();
  };
  EXPECT_FALSE(decodes({0x0f, 0xfe, 0xc1}, 0)) << "MMX paddd (no 66)";
  EXPECT_FALSE(decodes({0x0f, 0xfe, 0xc1}, 0xf2));
  EXPECT_FALSE(decodes({0x0f, 0x58, 0xc1}, 0x66)) << "addpd: floating point";
  EXPECT_FALSE(decodes({0x0f, 0xd7, 0x08}, 0x66)) << "pmovmskb from memory";
  EXPECT_FALSE(decodes({0x0f, 0x72, 0x08, 1}, 0x66)) << "a shift of memory";
  EXPECT_FALSE(decodes({0x0f, 0x73, 0xe0, 1}, 0x66)) << "psraq does not exist in SSE2";
  EXPECT_FALSE(decodes({0x0f, 0x38, 0x01, 0xc1}, 0x66)) << "phaddw";
  EXPECT_TRUE(decodes({0x0f, 0x38, 0x00, 0xc1}, 0x66)) << "pshufb";
}

}  // namespace
}  // namespace rrvm
