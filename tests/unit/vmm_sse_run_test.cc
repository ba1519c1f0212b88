// InstructionCompleter on a scripted vCPU (tests/unit/fake_vcpu.h): an SSE
// instruction KVM could not emulate takes the SSE instructions after it
// along in the same exit, and the run stops, changing nothing, before the
// first one it must leave to KVM (not SSE, a fault, an operand outside RAM).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <vector>

#include "tests/unit/fake_vcpu.h"
#include "vmm/instruction_completion.h"

namespace rrvm {
namespace {

constexpr uint64_t kCode = 0x10000, kData = 0x20000;
constexpr uint64_t kCr4Osfxsr = 1u << 9;

const std::vector<uint8_t> kPaddd = {0x66, 0x0f, 0xfe, 0xc1};         // paddd %xmm1,%xmm0
const std::vector<uint8_t> kPxor = {0x66, 0x0f, 0xef, 0xc2};          // pxor %xmm2,%xmm0
const std::vector<uint8_t> kPshufd = {0x66, 0x0f, 0x70, 0xc0, 0x1b};  // pshufd $0x1b,%xmm0,%xmm0
const std::vector<uint8_t> kStore = {0x66, 0x0f, 0x7f, 0x07};         // movdqa %xmm0,(%rdi)
const std::vector<uint8_t> kMovzbl = {0x0f, 0xb6, 0x01};              // movzbl (%rcx),%eax

struct SseRun : testing::Test {
  SseRun() : ram(2 << 20), vcpu(ram, 0x1000), completer(vcpu, ram) {
    kvm_sregs s = vcpu.get_sregs();
    s.cr4 |= kCr4Osfxsr;
    vcpu.set_sregs(s);
    kvm_regs r = vcpu.get_regs();
    r.rip = kCode;
    r.rdi = kData;
    vcpu.set_regs(r);
    Vcpu::FxState fx = vcpu.get_fx();
    for (int i = 0; i < 16; ++i) {
      fx.xmm[0][i] = uint8_t(i);
      fx.xmm[1][i] = uint8_t(0xf0 + i);
      fx.xmm[2][i] = uint8_t(0x5a);
    }
    vcpu.set_fx(fx);
  }
  void code(std::initializer_list<std::vector<uint8_t>> insns) {
    std::vector<uint8_t> bytes;
    for (const auto& i : insns) bytes.insert(bytes.end(), i.begin(), i.end());
    ASSERT_TRUE(ram.write(kCode, bytes));
  }
  // xmm0 after paddd, pxor and pshufd as the SDM defines them, by lanes.
  static std::array<uint32_t, 4> expected_xmm0(const Vcpu::FxState& start) {
    std::array<uint32_t, 4> a{}, b{}, c{}, out{};
    std::memcpy(a.data(), start.xmm[0].data(), 16);
    std::memcpy(b.data(), start.xmm[1].data(), 16);
    std::memcpy(c.data(), start.xmm[2].data(), 16);
    for (int i = 0; i < 4; ++i) a[i] = (a[i] + b[i]) ^ c[i];
    for (int i = 0; i < 4; ++i) out[i] = a[(0x1b >> (2 * i)) & 3];
    return out;
  }
  std::array<uint32_t, 4> xmm0() const {
    std::array<uint32_t, 4> v{};
    std::memcpy(v.data(), vcpu.get_fx().xmm[0].data(), 16);
    return v;
  }

  GuestRam ram;
  test::FakeVcpu vcpu;
  InstructionCompleter completer;
};

TEST_F(SseRun, TheSseInstructionsAfterTheFailedOneCompleteInTheSameExit) {
  code({kPaddd, kPxor, kPshufd, kStore, kMovzbl});
  auto want = expected_xmm0(vcpu.get_fx());
  uint64_t rip = 0;
  std::string why;
  std::optional<Completion> c = completer.complete(&rip, &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(rip, kCode);
  EXPECT_EQ(c->insn, CompletedInsn::kSse);
  EXPECT_EQ(c->length, 4);
  EXPECT_EQ(c->run, 3u) << "pxor, pshufd, movdqa; movzbl is KVM's";
  EXPECT_EQ(c->run_bytes, 4u + 5 + 4);
  EXPECT_EQ(vcpu.get_regs().rip, kCode + 17) << "on the movzbl";
  EXPECT_EQ(xmm0(), want);
  std::array<uint32_t, 4> stored{};
  ASSERT_TRUE(ram.read(kData, {reinterpret_cast<uint8_t*>(stored.data()), 16}));
  EXPECT_EQ(stored, want);
}

TEST_F(SseRun, StopsBeforeAnInstructionThatWouldFault) {
  code({kPaddd, kPxor, kPshufd, kStore});
  kvm_regs r = vcpu.get_regs();
  r.rdi = kData + 8;  // movdqa to a misaligned address: #GP(0), KVM's to raise
  vcpu.set_regs(r);
  auto want = expected_xmm0(vcpu.get_fx());
  uint64_t rip = 0;
  std::string why;
  std::optional<Completion> c = completer.complete(&rip, &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->run, 2u);
  EXPECT_EQ(c->vector, kNoVector) << "the fault is the next exit's, not this run's";
  EXPECT_EQ(vcpu.get_regs().rip, kCode + 13) << "on the movdqa";
  EXPECT_EQ(xmm0(), want);
  std::array<uint8_t, 16> untouched{};
  ASSERT_TRUE(ram.read(kData + 8, untouched));
  EXPECT_EQ(untouched, (std::array<uint8_t, 16>{}));
  // The next exit: movdqa alone, as the #GP(0) the CPU raises there.
  c = completer.complete(&rip, &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(rip, kCode + 13);
  EXPECT_EQ(c->vector, 13);
  EXPECT_TRUE(c->fault);
  EXPECT_EQ(c->run, 0u);
  EXPECT_EQ(vcpu.get_regs().rip, kCode + 13);
}

TEST_F(SseRun, StopsBeforeAnOperandOutsideRam) {
  code({kPaddd, kStore, kPxor});
  kvm_regs r = vcpu.get_regs();
  r.rdi = 64ull << 20;  // past the 2 MiB of RAM
  vcpu.set_regs(r);
  uint64_t rip = 0;
  std::string why;
  std::optional<Completion> c = completer.complete(&rip, &why);
  ASSERT_TRUE(c) << why;
  EXPECT_EQ(c->run, 0u);
  EXPECT_EQ(vcpu.get_regs().rip, kCode + 4);
  // Left to the next exit, which has nothing to complete it with.
  EXPECT_FALSE(completer.complete(&rip, &why));
  EXPECT_NE(why.find("not mapped"), std::string::npos) << why;
}

}  // namespace
}  // namespace rrvm
