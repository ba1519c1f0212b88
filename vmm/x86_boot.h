// Initial vCPU state for the two ways rrvm enters a guest.
#pragma once

#include <cstdint>
#include <vector>

#include "vmm/kvm.h"

namespace rrvm {

class GuestMemory;

// Multiboot 1 machine state (Multiboot spec 0.6.96, 3.2): 32-bit protected
// mode, flat 4 GiB code and data segments, paging off, interrupts off,
// EAX = 0x2BADB002, EBX = physical address of the info structure.
void enter_multiboot(KvmVcpu& vcpu, uint32_t entry, uint32_t info_addr);

// 64-bit mode with the first 4 GiB identity-mapped by 2 MiB pages. The page
// tables (six 4 KiB pages) and a GDT (one more page: code 0x10, data 0x18)
// are written at `page_tables` in guest RAM.
// RSI carries `rsi` (the Linux boot protocol's boot_params pointer).
void enter_long_mode(KvmVcpu& vcpu, GuestMemory& mem, uint64_t page_tables, uint64_t entry,
                     uint64_t rsi);
constexpr uint64_t kLongModePageTablesSize = 7 * 4096;

// The CPU after an ACPI S3 resume, as firmware hands it to the OS waking
// vector (ACPI 6.5, 5.2.10 "Firmware ACPI Control Structure", Firmware_
// Waking_Vector): real mode, CS:IP = (vector >> 4):(vector & 0xF), data
// segments 0 with 64 KiB limits, paging and protection off, interrupts
// off, the other registers cleared (a CPU reset: SDM vol. 3A, 9.1.1).
void enter_real_mode(Vcpu& vcpu, uint32_t vector);

}  // namespace rrvm
