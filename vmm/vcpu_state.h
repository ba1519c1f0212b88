// Everything KVM holds for the vCPU that the guest can observe or that
// shapes its future: the part of a machine checkpoint that lives in the
// kernel (vmm/machine_checkpoint.h). The order of the ioctls on restore
// follows QEMU's kvm_arch_put_registers: registers, FPU, XCRs, special
// registers, MSRs, pending events, debug registers.
//
// Not saved, and why:
// - The TSC. This host ignores WRMSR(TSC), from the guest and from
//   KVM_SET_MSRS alike, so a restored guest reads the host-derived counter,
//   which has moved on; RDTSC is outside the recorded inputs anyway
//   (DESIGN.md, What KVM cannot trap), so guests that read it diverge after
//   a restore exactly as they diverge in replay.
// - MP state: without an in-kernel irqchip KVM hands HLT to the VMM and the
//   vCPU is always RUNNABLE.
// - KVM_SET_GUEST_DEBUG settings: they are the debugger's, not the guest's.
// - The kvmclock and other paravirtual MSRs: rrvm hides them (DESIGN.md 7).
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/vcpu.h"

namespace rrvm {

// The kvm_run fields the run loop reads before its next entry: where KVM
// left them at the exit, not where a completing KVM_RUN would move them.
struct RunAreaView {
  uint64_t cr8 = 0;
  uint8_t if_flag = 0;
  uint8_t ready_for_interrupt_injection = 0;
  uint8_t request_interrupt_window = 0;
};

struct VcpuState {
  kvm_regs regs{};
  kvm_sregs sregs{};
  std::vector<uint8_t> fpu;  // Vcpu::get_fpu_state()
  kvm_xcrs xcrs{};
  std::vector<kvm_msr_entry> msrs;
  kvm_vcpu_events events{};
  kvm_debugregs debugregs{};
  RunAreaView run;
};

// The architectural MSRs a guest can set and KVM keeps (vcpu_state.cc's
// list) that this vCPU lets us read and write back: it depends on the
// guest CPUID and the host, so a machine probes once.
std::vector<uint32_t> checkpoint_msrs(Vcpu& vcpu);

// Precondition: no exit pending (Vcpu::finish_pending_exit()).
VcpuState save_vcpu_state(const Vcpu& vcpu, std::span<const uint32_t> msrs);
// Throws KvmError if KVM refuses any part (an MSR included).
void restore_vcpu_state(Vcpu& vcpu, const VcpuState& s);

// xxh3-64 over every saved field, for comparing executions.
uint64_t digest(const VcpuState& s);

}  // namespace rrvm
