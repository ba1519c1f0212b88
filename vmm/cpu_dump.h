// Human-readable vCPU state for crash reports.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "vmm/vcpu.h"

namespace rrvm {

class GuestMemory;

std::string format_registers(const kvm_regs& r, const kvm_sregs& s);
// Guest code at virtual address `va`, through the guest's page tables (the
// page of `va`; guests map code contiguously): fills the longest prefix of
// `out` that lies in guest RAM and returns its length; nullopt when `va` is
// not mapped.
std::optional<size_t> read_guest_code(const Vcpu& vcpu, const GuestMemory& mem, uint64_t va,
                                      std::span<uint8_t> out);
// "rip 0x... bytes: 0f 0b ..." — up to 16 bytes at RIP, through the guest's
// page tables; says so when RIP is not mapped.
std::string format_code_at_rip(const Vcpu& vcpu, const GuestMemory& mem, uint64_t rip);

}  // namespace rrvm
