#include "vmm/page_walk.h"
#include "vmm/x86_arch.h"

namespace rrvm {

namespace {

// Paging-structure entries: SDM vol. 3A, 4.5 (Tables 4-15 to 4-20).
constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kUser = 1ull << 2;
constexpr uint64_t kPageSize = 1ull << 7;
constexpr uint64_t kNoExecute = 1ull << 63;
constexpr uint64_t kAddress = 0x000f'ffff'ffff'f000ull;  // bits 51:12
constexpr uint64_t k2MiB = 1ull << 21;
constexpr uint64_t k2MiBReserved = 0x1f'e000ull;  // bits 20:13 of a 2 MiB PDE

PageWalk ask_kvm() {
  return {PageWalk::kAskKvm, 0};
}

bool canonical48(uint64_t va) {
  uint64_t top = va >> 47;
  return top == 0 || top == 0x1ffff;
}

// A translation into RAM; one elsewhere (MMIO, or reserved address bits
// set) is left to KVM. So is a user page where SMAP or protection keys
// could make KVM's supervisor-mode walk refuse it (SDM 4.6.1, 4.6.2).
PageWalk mapped(const GuestMemory& mem, const kvm_sregs& sregs, uint64_t gpa, bool user) {
  if (user && (sregs.cr4 & (kCr4Smap | kCr4Pke))) return ask_kvm();
  uint8_t byte;
  return mem.read(gpa, {&byte, 1}) ? PageWalk{PageWalk::kMapped, gpa} : ask_kvm();
}

}  // namespace

PageWalk walk_page_tables(const GuestMemory& mem, const kvm_sregs& sregs, uint64_t va) {
  if (!(sregs.cr0 & kCr0Pg)) return {PageWalk::kMapped, va};
  bool four_level = (sregs.cr4 & kCr4Pae) && (sregs.efer & kEferLma) && !(sregs.cr4 & kCr4La57);
  if (!four_level || (sregs.cr4 & kCr4Pks) || !canonical48(va)) return ask_kvm();
  uint64_t table = sregs.cr3 & kAddress;
  bool user = true;  // a user-mode address: U/S set at every level
  // PML4 (bits 47:39), PDPT (38:30), page directory (29:21), page table (20:12).
  for (int level = 4; level >= 1; --level) {
    uint64_t index = (va >> (12 + 9 * (level - 1))) & 0x1ff;
    uint64_t entry = 0;
    if (!mem.read(table + index * 8, {reinterpret_cast<uint8_t*>(&entry), sizeof entry}))
      return ask_kvm();
    if (!(entry & kPresent)) return {PageWalk::kNotMapped, 0};
    if ((entry & kNoExecute) && !(sregs.efer & kEferNxe)) return ask_kvm();
    user = user && (entry & kUser);
    // Bit 7: PS in a PML4E (reserved), PDPTE (1 GiB page), PDE (2 MiB
    // page); PAT in a PTE.
    bool large = level > 1 && (entry & kPageSize);
    if (large && level != 2) return ask_kvm();
    if (large) {
      if (entry & k2MiBReserved) return ask_kvm();
      return mapped(mem, sregs, (entry & kAddress & ~(k2MiB - 1)) | (va & (k2MiB - 1)), user);
    }
    table = entry & kAddress;
  }
  return mapped(mem, sregs, table | (va & 0xfff), user);
}

bool translate_address(const Vcpu& vcpu, const GuestMemory& mem, uint64_t va, uint64_t* gpa) {
  if (vcpu.registers_synced()) {
    PageWalk w = walk_page_tables(mem, vcpu.get_sregs(), va);
    if (w.kind == PageWalk::kMapped) *gpa = w.gpa;
    if (w.kind != PageWalk::kAskKvm) return w.kind == PageWalk::kMapped;
  }
  return vcpu.translate(va, gpa);
}

}  // namespace rrvm
