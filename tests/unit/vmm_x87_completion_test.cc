// The x87 instructions of Linux's FXSAVE-leak workaround ("fnclex; emms;
// fildl", run before restoring a task's FPU state), completed by rrvm on a
// scripted vCPU (tests/unit/fake_vcpu.h) as SDM vol. 2 describes them.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/unit/fake_vcpu.h"
#include "vmm/instruction_completion.h"

namespace rrvm {
namespace {

constexpr uint64_t kCode = 0x10000, kData = 0x20000;

std::optional<Completion> plan(std::vector<uint8_t> code, CompletionContext ctx = {}) {
  std::string why;
  return plan_completion(code, ctx, &why);
}

TEST(X87, PlansFnclexEmmsAndFildWithTheirFaults) {
  EXPECT_EQ(plan({0xdb, 0xe2})->x87, X87Op::kFnclex);
  EXPECT_EQ(plan({0xdb, 0xe2})->length, 2);
  EXPECT_EQ(plan({0x0f, 0x77})->x87, X87Op::kEmms);
  auto fild = plan({0xdb, 0x05, 0x10, 0x00, 0x00, 0x00});  // fildl 0x10(%rip)
  ASSERT_TRUE(fild);
  EXPECT_EQ(fild->x87, X87Op::kFild32);
  EXPECT_EQ(fild->length, 6);
  EXPECT_TRUE(fild->mem.rip_relative);
  EXPECT_FALSE(plan({0xdb, 0xc0})) << "fcmovnb, a register form: not completed";
  EXPECT_FALSE(plan({0xdb, 0x08})) << "fisttp, DB /1: not completed";
  CompletionContext ts;
  ts.cr0_ts = true;
  EXPECT_EQ(plan({0xdb, 0xe2}, ts)->vector, 7) << "#NM with CR0.TS";
  CompletionContext em;
  em.cr0_em = true;
  EXPECT_EQ(plan({0x0f, 0x77}, em)->vector, 6) << "EMMS with CR0.EM: #UD";
  EXPECT_EQ(plan({0xdb, 0x07}, em)->vector, 7) << "FILD with CR0.EM: #NM";
  EXPECT_EQ(plan({0xf0, 0xdb, 0xe2})->vector, 6) << "LOCK: #UD";
}

struct X87Run : testing::Test {
  X87Run() : ram(2 << 20), vcpu(ram, 0x1000), completer(vcpu, ram) {
    kvm_regs r = vcpu.get_regs();
    r.rip = kCode;
    r.rdi = kData;
    vcpu.set_regs(r);
  }
  std::optional<Completion> run(std::vector<uint8_t> code, std::string* why) {
    EXPECT_TRUE(ram.write(kCode, code));
    kvm_regs r = vcpu.get_regs();
    r.rip = kCode;
    vcpu.set_regs(r);
    uint64_t rip = 0;
    return completer.complete(&rip, why);
  }
  GuestRam ram;
  test::FakeVcpu vcpu;
  InstructionCompleter completer;
};

TEST_F(X87Run, FnclexEmmsFildLeaveWhatTheCpuLeaves) {
  Vcpu::X87State x = vcpu.get_x87();
  x.fsw = 0x80a1 | 5 << 11;  // B, ES, PE, IE set; TOP 5
  x.ftw = 0x60;              // registers 5 and 6 in use
  vcpu.set_x87(x);
  std::string why;
  ASSERT_TRUE(run({0xdb, 0xe2}, &why)) << why;
  EXPECT_EQ(vcpu.get_x87().fsw, 5 << 11) << "flags, ES and B cleared; TOP kept";
  EXPECT_EQ(vcpu.get_regs().rip, kCode + 2);
  ASSERT_TRUE(run({0x0f, 0x77}, &why)) << why;
  EXPECT_EQ(vcpu.get_x87().ftw, 0) << "every register empty";
  int32_t v = -123456789;
  ASSERT_TRUE(ram.write(kData, {reinterpret_cast<const uint8_t*>(&v), 4}));
  Vcpu::X87State before = vcpu.get_x87();
  ASSERT_TRUE(run({0xdb, 0x07}, &why)) << why;  // fildl (%rdi)
  Vcpu::X87State after = vcpu.get_x87();
  EXPECT_EQ(after.fsw >> 11 & 7, 4) << "TOP 5 - 1";
  EXPECT_EQ(after.ftw, 1 << 4) << "the new ST0, physical register 4, in use";
  long double st0 = 0;
  std::memcpy(&st0, after.st[0].data(), 10);
  EXPECT_EQ(st0, -123456789.0L);
  EXPECT_EQ(after.st[1], before.st[0]) << "the old ST0 is ST1";
  EXPECT_EQ(after.fip, kCode);
  EXPECT_EQ(after.fdp, kData);
  EXPECT_EQ(after.fop, 0x307) << "DB & 7, ModRM 07";
  EXPECT_EQ(vcpu.get_regs().rip, kCode + 2);
}

TEST_F(X87Run, APendingExceptionOrAFullRegisterIsLeftToACrashReport) {
  Vcpu::X87State x = vcpu.get_x87();
  x.fsw = 0x0081;  // IE unmasked and pending
  vcpu.set_x87(x);
  std::string why;
  EXPECT_FALSE(run({0x0f, 0x77}, &why));
  EXPECT_NE(why.find("pending"), std::string::npos) << why;
  x.fsw = 0;
  x.ftw = 0x80;  // TOP 0: the push goes to physical register 7, in use
  vcpu.set_x87(x);
  EXPECT_FALSE(run({0xdb, 0x07}, &why));
  EXPECT_NE(why.find("stack overflow"), std::string::npos) << why;
  EXPECT_EQ(vcpu.get_x87().ftw, 0x80) << "nothing changed";
}

}  // namespace
}  // namespace rrvm
