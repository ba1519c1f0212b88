// Guest-virtual to guest-physical in userspace: the walk KVM_TRANSLATE does,
// read from the guest's page tables in guest RAM, for the modes guests run
// in here (no paging, 4-level paging). Bisect's single-stepping looks at
// the instruction at RIP before every step; KVM_TRANSLATE's ioctl costs as
// much as the step itself on nested KVM.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

#include "devices/guest_memory.h"
#include "vmm/kvm.h"

namespace rrvm {

struct PageWalk {
  enum Kind {
    kMapped,     // `gpa` is the translation
    kNotMapped,  // a non-present entry: KVM_TRANSLATE says "invalid" too
    kAskKvm,     // a mode or an entry this walk does not decide: use KVM_TRANSLATE
  } kind = kAskKvm;
  uint64_t gpa = 0;
};

// `va` through the paging mode `sregs` selects (SDM vol. 3A, 4.1.1):
//  - CR0.PG clear: no paging, the address is physical (KVM's nonpaging
//    walk);
//  - IA-32e 4-level paging (CR0.PG, CR4.PAE, EFER.LMA; SDM 4.5): PML4E,
//    PDPTE, PDE, PTE, with 2 MiB pages.
// Everything else is kAskKvm: 32-bit and PAE paging, 5-level paging, 1 GiB
// pages (valid only if the guest's CPUID has them), a non-canonical
// address, an entry with a bit the SDM reserves (PS in a PML4E, NX while
// EFER.NXE is clear, the low bits of a 2 MiB page's address), a table or
// translation outside guest RAM (reserved physical-address bits above
// MAXPHYADDR land there too), and a user page under SMAP or protection
// keys (KVM's supervisor-mode walk may refuse it). No accessed bit is set
// (KVM_TRANSLATE's walk sets them; the guest's own access sets them when
// it makes one).
PageWalk walk_page_tables(const GuestMemory& mem, const kvm_sregs& sregs, uint64_t va);

// KVM_TRANSLATE's answer: from walk_page_tables() where the vCPU's
// registers are at hand without an ioctl (KvmVcpu::sync_registers) and the
// walk decides, else from KVM.
bool translate_address(const Vcpu& vcpu, const GuestMemory& mem, uint64_t va, uint64_t* gpa);

}  // namespace rrvm
