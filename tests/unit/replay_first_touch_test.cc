// What bisect's run to the differing memory relies on without KVM: the
// bytes where two RAMs differ (DifferingMemory), and the pages the CPU
// reads by itself, which it must not trap (system_pages; SDM vol. 3A, 4.5
// for the paging structures, 3.5.1 and 6.10 for the GDT and IDT).
#include "replay/first_touch.h"

#include <gtest/gtest.h>

#include "tests/unit/fake_vcpu.h"

namespace rrvm {
namespace {

constexpr uint64_t kMiB = 1 << 20;

void put(GuestRam& ram, uint64_t gpa, uint8_t byte) {
  ASSERT_TRUE(ram.write(gpa, {&byte, 1}));
}

TEST(DifferingMemory, IsTheBytesThatDifferAndNothingAround) {
  GuestRam a(2 * kMiB), b(2 * kMiB);
  put(a, 0x10000, 1);  // equal on both: not a difference
  put(b, 0x10000, 1);
  put(a, 0xf0010, 0xd8);
  put(b, 0xf0010, 0xe8);
  put(b, 0xf1fff, 7);  // the last byte of a page
  std::optional<DifferingMemory> d = DifferingMemory::between(a, b, 8);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->pages(), (std::vector<uint64_t>{0xf0000, 0xf1000}));
  EXPECT_TRUE(d->touches(0xf0010, 1));
  EXPECT_TRUE(d->touches(0xf000e, 4));  // a word over it
  EXPECT_FALSE(d->touches(0xf000c, 4));
  EXPECT_FALSE(d->touches(0xf0011, 8));
  EXPECT_FALSE(d->touches(0x10000, 1));
  EXPECT_TRUE(d->touches(0xf1ffe, 4));  // across into the next page, from the differing byte
  EXPECT_FALSE(d->touches(0xf2000, 8));
}

TEST(DifferingMemory, EqualRamIsEmptyAndTooManyPagesIsNone) {
  GuestRam a(2 * kMiB), b(2 * kMiB);
  std::optional<DifferingMemory> same = DifferingMemory::between(a, b, 8);
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->empty());
  for (uint64_t p = 0; p < 3; ++p) put(b, 0x100000 + p * 0x1000, 1);
  EXPECT_TRUE(DifferingMemory::between(a, b, 3));
  EXPECT_FALSE(DifferingMemory::between(a, b, 2));
}

constexpr uint64_t kP = 1, kRw = 2, kPs = 0x80;

// 4-level tables at 0x1000 (PML4), 0x2000 (PDPT), 0x3000 (PD), 0x4000 and
// 0x5000 (PTs); a 2 MiB page in the PD (not a table: not listed). Linear
// 0x7000 maps 0x9000 (the GDT there), 0x200000 .. maps 0x200000 (the IDT).
struct Machine {
  Machine() : ram(4 * kMiB), vcpu(ram, 0x200000) {
    set(0x1000, 0, 0x2000 | kP | kRw);
    set(0x2000, 0, 0x3000 | kP | kRw);
    set(0x3000, 0, 0x4000 | kP | kRw);
    set(0x3000, 1, 0x200000 | kP | kRw | kPs);
    set(0x3000, 2, 0x5000 | kP | kRw);
    set(0x4000, 7, 0x9000 | kP | kRw);
    kvm_sregs s = vcpu.get_sregs();
    s.cr3 = 0x1000;
    s.cr4 = 1 << 5;  // PAE
    s.gdt.base = 0x7000;
    s.gdt.limit = 0x37;
    s.idt.base = 0x200000;
    s.idt.limit = 0xfff;
    vcpu.set_sregs(s);
  }
  void set(uint64_t table, uint64_t index, uint64_t entry) {
    ASSERT_TRUE(ram.write(table + index * 8, {reinterpret_cast<uint8_t*>(&entry), 8}));
  }
  GuestRam ram;
  test::FakeVcpu vcpu;
};

TEST(SystemPages, ArePagingStructuresAndDescriptorTables) {
  Machine m;
  auto pages = system_pages(m.vcpu, m.ram);
  ASSERT_TRUE(pages);
  EXPECT_EQ(*pages,
            (std::vector<uint64_t>{0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x9000, 0x200000}));
}

TEST(SystemPages, WithoutPagingAreTheDescriptorTablesPhysicalPages) {
  Machine m;
  kvm_sregs s = m.vcpu.get_sregs();
  s.cr0 = 0x11;  // PE only
  s.efer = 0;
  s.gdt.base = 0x7ff8;  // straddles two pages
  s.gdt.limit = 0x17;
  m.vcpu.set_sregs(s);
  auto pages = system_pages(m.vcpu, m.ram);
  ASSERT_TRUE(pages);
  EXPECT_EQ(*pages, (std::vector<uint64_t>{0x7000, 0x8000, 0x200000}));
}

TEST(SystemPages, AreUnknownWhereTheWalkDoesNotDecide) {
  Machine m;
  kvm_sregs s = m.vcpu.get_sregs();
  kvm_sregs pae32 = s, five_level = s, unmapped_idt = s, small = s;
  pae32.efer = 0;  // PAE paging without IA-32e mode
  five_level.cr4 |= 1 << 12;
  unmapped_idt.idt.base = 0x8000;  // PTE 8 not present
  for (const kvm_sregs& x : {pae32, five_level, unmapped_idt}) {
    m.vcpu.set_sregs(x);
    EXPECT_FALSE(system_pages(m.vcpu, m.ram));
  }
  m.vcpu.set_sregs(small);
  EXPECT_FALSE(system_pages(m.vcpu, m.ram, 3)) << "more pages than asked for";
  EXPECT_TRUE(system_pages(m.vcpu, m.ram));
}

}  // namespace
}  // namespace rrvm
