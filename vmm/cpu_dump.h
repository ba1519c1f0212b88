// Human-readable vCPU state for crash reports.
#pragma once

#include <string>

#include "vmm/kvm.h"

namespace rrvm {

class GuestMemory;

std::string format_registers(const kvm_regs& r, const kvm_sregs& s);
// "rip 0x... bytes: 0f 0b ..." — up to 16 bytes at RIP, through the guest's
// page tables; says so when RIP is not mapped.
std::string format_code_at_rip(const KvmVcpu& vcpu, const GuestMemory& mem, uint64_t rip);

}  // namespace rrvm
