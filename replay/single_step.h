// One guest instruction at a time, for bisect's final interval and the
// debugger's stepi.
#pragma once

#include <cstdint>

#include "devices/guest_memory.h"
#include "replay/debug_registers.h"
#include "vmm/vcpu.h"

namespace rrvm {

// Executes one instruction and returns KVM's exit reason: KVM_EXIT_DEBUG
// after an ordinary instruction, or the natural exit (I/O, MMIO) the
// instruction made. The caller has set single-stepping, with `watch` armed
// alongside (DR6 in the run area says whether it fired): guest_debug(watch,
// nullopt, true). Two exceptions to plain single-stepping:
//  - An interrupt queued for injection is delivered without the trap flag:
//    delivered under single-step, RFLAGS.TF would be pushed on the guest's
//    interrupt frame and come back at its IRET, as a #DB the guest takes
//    itself. It runs to a breakpoint at the handler's first instruction
//    instead (the step is the delivery).
//  - HLT: single-stepped, KVM's emulator treats it as a no-op and the guest
//    would spin in its idle loop forever, never taking the interrupt the
//    recording injected at the HLT exit. So a HLT is executed here as KVM
//    does for the exit (RIP past it, KVM_EXIT_HLT in the run area).
// A stray kick (signal) steps again.
uint32_t step_instruction(Vcpu& vcpu, const GuestMemory& mem,
                          const UserDebugRegs& watch = UserDebugRegs{});

}  // namespace rrvm
