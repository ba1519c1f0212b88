// The debug-register layout shared by the landmark seeker (DR0) and the
// debugger (DR1-DR3): DR7 fields and DR6 hit bits per Intel SDM vol. 3B,
// 18.2.3-18.2.5.
#include <gtest/gtest.h>

#include "replay/debug_registers.h"

namespace rrvm {
namespace {

TEST(DebugRegisters, Dr7FieldsOfEachSlot) {
  UserDebugRegs u;
  EXPECT_FALSE(u.armed());
  u.set(0, 0x1000, 0, 1);  // DR1: execute
  EXPECT_EQ(u.dr7, 1ull << 2) << "L1, RW1 = 00, LEN1 = 00";
  u.set(1, 0x2000, 1, 4);  // DR2: write, 4 bytes
  EXPECT_EQ(u.dr7 >> 24 & 0xf, 0b1101u) << "RW2 = 01, LEN2 = 11";
  EXPECT_TRUE(u.dr7 & 1ull << 4) << "L2";
  u.set(2, 0x3000, 3, 8);  // DR3: read/write, 8 bytes
  EXPECT_EQ(u.dr7 >> 28 & 0xf, 0b1011u) << "RW3 = 11, LEN3 = 10";
  u.set(1, 0x2002, 1, 2);  // reusing a slot replaces its fields
  EXPECT_EQ(u.dr7 >> 24 & 0xf, 0b0101u) << "RW2 = 01, LEN2 = 01";
  EXPECT_EQ(u.addr[1], 0x2002u);
  EXPECT_EQ(u.dr7 & 0x3, 0u) << "DR0 stays the seeker's";
}

TEST(DebugRegisters, Dr6HitsNameTheDebuggersSlot) {
  EXPECT_EQ(UserDebugRegs::hit(0x1), std::nullopt) << "B0 is the landmark's";
  EXPECT_EQ(UserDebugRegs::hit(0x4000), std::nullopt) << "BS alone is a step";
  EXPECT_EQ(UserDebugRegs::hit(0xffff0ff2), 0) << "B1, with DR6's active-low bits set";
  EXPECT_EQ(UserDebugRegs::hit(0x8), 2);
}

TEST(DebugRegisters, GuestDebugCombinesLandmarkUserAndSingleStep) {
  UserDebugRegs u;
  kvm_guest_debug none = guest_debug(u, std::nullopt, false);
  EXPECT_EQ(none.control, 0u) << "nothing armed: debugging off";
  u.set(0, 0x1000, 0, 1);
  kvm_guest_debug d = guest_debug(u, 0x5000, false);
  EXPECT_EQ(d.control, uint32_t(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP));
  EXPECT_EQ(d.arch.debugreg[0], 0x5000u);
  EXPECT_EQ(d.arch.debugreg[1], 0x1000u);
  EXPECT_EQ(d.arch.debugreg[7], u.dr7 | 1) << "L0 for the landmark";
  kvm_guest_debug step = guest_debug(UserDebugRegs{}, std::nullopt, true);
  EXPECT_EQ(step.control, uint32_t(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP));
}

}  // namespace
}  // namespace rrvm
