#include "vmm/vcpu_state.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "vmm/kvm.h"
#include "vmm/state_digest.h"

namespace rrvm {

namespace {

// Architectural MSRs a guest can write and KVM keeps per vCPU (Intel SDM
// vol. 4, chapter 2). Left out on purpose: EFER, FS/GS base and APIC_BASE
// (in kvm_sregs), the TSC and TSC_ADJUST (see the header), TSC_DEADLINE
// (meaningless without KVM's LAPIC), read-only identification MSRs, and
// KVM's paravirtual MSRs. Why not KVM_GET_MSR_INDEX_LIST: it lists exactly
// those (host-specific, ignored or hidden MSRs) and misses the MTRRs.
constexpr uint32_t kCheckpointMsrs[] = {
    0x174,      0x175,      0x176,       // SYSENTER_CS, _ESP, _EIP
    0xc0000081, 0xc0000082, 0xc0000083,  // STAR, LSTAR, CSTAR
    0xc0000084, 0xc0000102, 0xc0000103,  // SFMASK, KERNEL_GS_BASE, TSC_AUX
    0x277,      0x1a0,      0x1d9,       // PAT, MISC_ENABLE, DEBUGCTL
    0x140,      0x17a,      0x17b,       // MISC_FEATURES_ENABLES, MCG_STATUS, MCG_CTL
    0x3a,       0x48,       0xda0,       // FEATURE_CONTROL, SPEC_CTRL, XSS
    0x1fc,      0xc001011f,              // POWER_CTL, AMD VIRT_SPEC_CTRL
    0x2ff,                               // MTRR default type
    0x200,      0x201,      0x202,      0x203, 0x204, 0x205, 0x206, 0x207,  // variable MTRRs
    0x208,      0x209,      0x20a,      0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
    0x250,      0x258,      0x259,  // fixed MTRRs
    0x268,      0x269,      0x26a,      0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
};

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

// The entries `op` (KVM_GET_MSRS or KVM_SET_MSRS) processes: KVM stops at
// the first one it refuses, so go on after each refusal.
template <class Op>
std::vector<kvm_msr_entry> accepted(std::vector<kvm_msr_entry> entries, Op op) {
  std::vector<kvm_msr_entry> ok;
  for (size_t i = 0; i < entries.size();) {
    size_t n = op(std::span(entries).subspan(i));
    ok.insert(ok.end(), entries.begin() + i, entries.begin() + i + n);
    i += n + 1;
  }
  return ok;
}

}  // namespace

// Readable is not enough: KVM reads XSS for a guest without XSAVES but
// refuses to write it. Writing back the value just read changes nothing.
std::vector<uint32_t> checkpoint_msrs(Vcpu& vcpu) {
  std::vector<kvm_msr_entry> all;
  for (uint32_t index : kCheckpointMsrs) all.push_back(kvm_msr_entry{index, 0, 0});
  auto readable = accepted(all, [&](std::span<kvm_msr_entry> e) { return vcpu.get_msrs(e); });
  auto settable = accepted(readable, [&](std::span<kvm_msr_entry> e) { return vcpu.set_msrs(e); });
  std::vector<uint32_t> out;
  for (const auto& e : settable) out.push_back(e.index);
  return out;
}

VcpuState save_vcpu_state(const Vcpu& vcpu, std::span<const uint32_t> msrs) {
  VcpuState s;
  s.regs = vcpu.get_regs();
  s.sregs = vcpu.get_sregs();
  s.fpu = vcpu.get_fpu_state();
  s.xcrs = vcpu.get_xcrs();
  for (uint32_t index : msrs) s.msrs.push_back(kvm_msr_entry{index, 0, 0});
  if (vcpu.get_msrs(s.msrs) != s.msrs.size()) {
    throw KvmError("KVM_GET_MSRS: an MSR it accepted before is refused now", EINVAL);
  }
  s.events = vcpu.get_events();
  s.debugregs = vcpu.get_debugregs();
  const kvm_run* run = vcpu.run_area();
  s.run = {run->cr8, run->if_flag, run->ready_for_interrupt_injection,
           run->request_interrupt_window};
  return s;
}

void restore_vcpu_state(Vcpu& vcpu, const VcpuState& s) {
  vcpu.set_regs(s.regs);
  vcpu.set_fpu_state(s.fpu);
  vcpu.set_xcrs(s.xcrs);
  vcpu.set_sregs(s.sregs);
  size_t n = vcpu.set_msrs(s.msrs);
  if (n != s.msrs.size()) throw KvmError("KVM_SET_MSRS " + hex32(s.msrs[n].index), EINVAL);
  // The flags GET returned say which fields are valid (NMI pending, the
  // interrupt shadow, SMM): exactly the ones to put back.
  vcpu.set_events(s.events);
  vcpu.set_debugregs(s.debugregs);
  kvm_run* run = vcpu.run_area();
  run->cr8 = s.run.cr8;
  run->if_flag = s.run.if_flag;
  run->ready_for_interrupt_injection = s.run.ready_for_interrupt_injection;
  run->request_interrupt_window = s.run.request_interrupt_window;
  run->immediate_exit = 0;
  // As after finish_pending_exit(): nothing is left for the loop to handle.
  run->exit_reason = KVM_EXIT_INTR;
}

namespace {

// The XSAVE image without its XSTATE_BV (header bytes 512-519, SDM vol. 1,
// 13.4.2): which components the host CPU tracks as in use is its own
// (init optimization) and varies from run to run for the same state, while
// KVM_GET_XSAVE writes a component's init values where the bit is clear, so
// the data alone is the state. Seen: XSTATE_BV 2 vs 0 at one exit of
// kvm.Guests/MachineCheckpoint…/"iobench", all else equal (about 1 run in 20).
std::vector<uint8_t> digested_fpu(const std::vector<uint8_t>& fpu) {
  constexpr size_t kXstateBv = 512, kXstateBvSize = 8;
  std::vector<uint8_t> out = fpu;
  if (out.size() >= kXstateBv + kXstateBvSize)
    std::fill_n(out.begin() + kXstateBv, kXstateBvSize, uint8_t{0});
  return out;
}

}  // namespace

uint64_t digest(const VcpuState& s) {
  StateDigest d;
  d.uapi(s.regs).uapi(s.sregs).bytes(digested_fpu(s.fpu)).uapi(s.xcrs);
  for (const auto& m : s.msrs) d.uapi(m);
  d.uapi(s.events).uapi(s.debugregs);
  d.value(s.run.cr8).value(s.run.if_flag).value(s.run.ready_for_interrupt_injection);
  d.value(s.run.request_interrupt_window);
  return d.digest();
}

}  // namespace rrvm
