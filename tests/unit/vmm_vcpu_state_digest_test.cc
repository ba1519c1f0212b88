// A vCPU state's digest (vmm/vcpu_state.h), what machine checkpoints are
// compared by: the XSAVE image counts by its data, not by which components
// the host CPU happened to mark in use (XSTATE_BV).
#include <gtest/gtest.h>

#include "vmm/vcpu_state.h"

namespace rrvm {
namespace {

VcpuState with_xsave_image() {
  VcpuState s;
  s.fpu.assign(4096, 0);
  s.fpu[0] = 0x7f, s.fpu[1] = 0x03;    // FCW 0x037f
  s.fpu[24] = 0x80, s.fpu[25] = 0x1f;  // MXCSR 0x1f80
  return s;
}

TEST(VcpuStateDigest, XstateBvAloneDoesNotChangeIt) {
  VcpuState a = with_xsave_image(), b = a;
  b.fpu[512] = 0x2;  // SSE marked in use, its registers still at their init values
  EXPECT_EQ(digest(a), digest(b));
}

TEST(VcpuStateDigest, TheImagesDataDoes) {
  VcpuState a = with_xsave_image(), b = a;
  b.fpu[160] = 1;  // XMM0's low byte (SDM vol. 1, 10.5.1, Table 10-2)
  EXPECT_NE(digest(a), digest(b));
  VcpuState c = a;
  c.fpu[520] = 1;  // XCOMP_BV is still digested
  EXPECT_NE(digest(a), digest(c));
}

}  // namespace
}  // namespace rrvm
