#include "replay/single_step.h"

#include <optional>

#include "vmm/cpu_dump.h"
#include "vmm/x86_arch.h"

namespace rrvm {

namespace {

// The handler of the interrupt KVM will deliver at the next entry, from the
// IDT gate (SDM vol. 3A, 6.11 and 6.14.1: 8-byte gates in protected mode,
// 16-byte gates in IA-32e mode).
std::optional<uint64_t> pending_interrupt_handler(const Vcpu& vcpu, const GuestMemory& mem) {
  kvm_vcpu_events ev = vcpu.get_events();
  if (!ev.interrupt.injected) return std::nullopt;
  kvm_sregs sr = vcpu.get_sregs();
  bool long_mode = sr.efer & kEferLma;
  uint64_t size = long_mode ? 16 : 8;
  uint64_t at = uint64_t(ev.interrupt.nr) * size;
  if (at + size - 1 > sr.idt.limit) return std::nullopt;
  uint8_t g[16] = {};
  if (read_guest_code(vcpu, mem, sr.idt.base + at, {g, size}) != size) return std::nullopt;
  uint64_t offset =
      uint64_t(g[0]) | uint64_t(g[1]) << 8 | uint64_t(g[6]) << 16 | uint64_t(g[7]) << 24;
  if (long_mode) {
    for (int i = 0; i < 4; ++i) offset |= uint64_t(g[8 + i]) << (32 + 8 * i);
  }
  return offset;
}

}  // namespace

uint32_t step_instruction(Vcpu& vcpu, const GuestMemory& mem, const UserDebugRegs& watch) {
  constexpr uint8_t kHlt = 0xF4;
  std::optional<uint64_t> handler = pending_interrupt_handler(vcpu, mem);
  if (!handler) {
    kvm_regs regs = vcpu.get_regs();
    uint8_t op = 0;
    if (read_guest_code(vcpu, mem, regs.rip, {&op, 1}) == 1 && op == kHlt) {
      regs.rip += 1;
      vcpu.set_regs(regs);
      vcpu.run_area()->exit_reason = KVM_EXIT_HLT;
      return KVM_EXIT_HLT;
    }
  }
  if (handler) vcpu.set_guest_debug(guest_debug(watch, handler, false));
  uint32_t reason = 0;
  for (;;) {
    if (vcpu.run()) {
      reason = vcpu.run_area()->exit_reason;
      break;
    }
    vcpu.run_area()->immediate_exit = 0;  // a stray kick: step again
  }
  if (handler) vcpu.set_guest_debug(guest_debug(watch, std::nullopt, true));
  return reason;
}

}  // namespace rrvm
