#include "vmm/x86_boot.h"

#include <array>
#include <stdexcept>

#include "devices/guest_memory.h"
#include "vmm/x86_arch.h"

namespace rrvm {

namespace {

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code64) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.db = code64 ? 0 : 1;
  s.s = 1;
  s.l = code64 ? 1 : 0;
  s.g = 1;
  return s;
}

// Selectors as the Linux boot protocol expects them (__BOOT_CS 0x10,
// __BOOT_DS 0x18), matching the GDT enter_long_mode() writes.
constexpr uint16_t kCodeSelector = 0x10, kDataSelector = 0x18;

void set_flat_segments(kvm_sregs& s, bool code64) {
  s.cs = flat_segment(kCodeSelector, 0xb, code64);             // execute/read, accessed
  kvm_segment data = flat_segment(kDataSelector, 0x3, false);  // read/write, accessed
  s.ds = s.es = s.fs = s.gs = s.ss = data;
}

// Null, 64-bit code (0x08), 64-bit code (0x10), flat data (0x18):
// descriptors per SDM vol. 3A, 3.4.5 (L=1 for 64-bit code, G=1, P=1).
constexpr std::array<uint64_t, 4> kGdt = {0, 0x00AF9A000000FFFFull, 0x00AF9A000000FFFFull,
                                          0x00CF92000000FFFFull};

}  // namespace

void enter_real_mode(Vcpu& vcpu, uint32_t vector) {
  kvm_sregs s = vcpu.get_sregs();
  auto real = [](uint16_t selector, uint8_t type) {
    kvm_segment seg{};
    seg.selector = selector;
    seg.base = uint64_t(selector) << 4;
    seg.limit = 0xffff;
    seg.type = type;
    seg.present = 1;
    seg.s = 1;
    return seg;
  };
  s.cs = real(static_cast<uint16_t>(vector >> 4), 0xb);  // execute/read, accessed
  s.ds = s.es = s.fs = s.gs = s.ss = real(0, 0x3);       // read/write, accessed
  s.tr = real(0, 0xb);                                   // busy 32-bit TSS, as at reset
  s.tr.s = 0;
  s.ldt = real(0, 0x2);
  s.ldt.s = 0;
  s.gdt = {0, 0xffff, {}};
  s.idt = {0, 0xffff, {}};
  s.cr0 = kCr0Et;
  s.cr2 = s.cr3 = s.cr4 = 0;
  s.efer = 0;
  vcpu.set_sregs(s);

  kvm_regs r{};
  r.rip = vector & 0xf;
  r.rflags = 0x2;  // bit 1 is reserved-one; IF clear
  vcpu.set_regs(r);
}

void enter_multiboot(KvmVcpu& vcpu, uint32_t entry, uint32_t info_addr) {
  kvm_sregs s = vcpu.get_sregs();
  set_flat_segments(s, false);
  s.cr0 = kCr0Pe | kCr0Et;
  s.cr4 = 0;
  s.efer = 0;
  vcpu.set_sregs(s);

  kvm_regs r{};
  r.rip = entry;
  r.rax = 0x2BADB002;
  r.rbx = info_addr;
  r.rflags = 0x2;  // bit 1 is reserved-one; IF clear
  vcpu.set_regs(r);
}

void enter_long_mode(KvmVcpu& vcpu, GuestMemory& mem, uint64_t page_tables, uint64_t entry,
                     uint64_t rsi) {
  // PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages
  // (Intel SDM vol. 3A, 4.5: present | writable, PS for the 2 MiB leaves).
  constexpr uint64_t kPresentRw = 0x3, kPageSize = 0x80;
  std::array<uint64_t, 512> table{};
  const uint64_t pdpt = page_tables + 0x1000, pd0 = page_tables + 0x2000;
  auto put = [&](uint64_t gpa) {
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(table.data()), 4096);
    if (!mem.write(gpa, bytes)) throw std::runtime_error("page tables do not fit in guest RAM");
  };
  table.fill(0);
  table[0] = pdpt | kPresentRw;
  put(page_tables);
  table.fill(0);
  for (uint64_t i = 0; i < 4; ++i) table[i] = (pd0 + i * 0x1000) | kPresentRw;
  put(pdpt);
  for (uint64_t d = 0; d < 4; ++d) {
    for (uint64_t i = 0; i < 512; ++i) table[i] = ((d * 512 + i) << 21) | kPresentRw | kPageSize;
    put(pd0 + d * 0x1000);
  }

  const uint64_t gdt = page_tables + 0x6000;
  std::span<const uint8_t> gdt_bytes(reinterpret_cast<const uint8_t*>(kGdt.data()), sizeof kGdt);
  if (!mem.write(gdt, gdt_bytes)) throw std::runtime_error("GDT does not fit in guest RAM");

  kvm_sregs s = vcpu.get_sregs();
  set_flat_segments(s, true);
  s.gdt.base = gdt;
  s.gdt.limit = sizeof kGdt - 1;
  s.cr3 = page_tables;
  s.cr4 = kCr4Pae;
  s.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
  s.efer = kEferLme | kEferLma;
  vcpu.set_sregs(s);

  kvm_regs r{};
  r.rip = entry;
  r.rsi = rsi;
  r.rflags = 0x2;
  vcpu.set_regs(r);
}

}  // namespace rrvm
