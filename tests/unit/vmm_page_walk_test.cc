// walk_page_tables: 4-level paging read from hand-built tables, and every
// case it leaves to KVM_TRANSLATE (SDM vol. 3A, 4.5).
#include "vmm/page_walk.h"

#include <gtest/gtest.h>

namespace rrvm {
namespace {

constexpr uint64_t kP = 1, kRw = 2, kUs = 4, kPs = 0x80, kNx = 1ull << 63;
constexpr uint64_t kCr0Pg = 1ull << 31, kCr0Pe = 1;
constexpr uint64_t kCr4Pae = 1 << 5, kCr4La57 = 1 << 12, kCr4Smap = 1 << 21, kCr4Pks = 1 << 24;
constexpr uint64_t kEferLme = 1 << 8, kEferLma = 1 << 10, kEferNxe = 1 << 11;

// Tables at 0x1000 (PML4), 0x2000 (PDPT), 0x3000 (PD), 0x4000 (PT) in
// 4 MiB of RAM: va 0 .. 2 MiB through the page table, 2 .. 4 MiB one
// 2 MiB page.
struct Tables {
  Tables() : mem(4 << 20) {
    set(0x1000, 0, 0x2000 | kP | kRw);
    set(0x2000, 0, 0x3000 | kP | kRw);
    set(0x3000, 0, 0x4000 | kP | kRw);
    set(0x3000, 1, 0x200000 | kP | kRw | kPs);
    set(0x4000, 5, 0x345000 | kP | kRw);  // va 0x5000 -> 0x345000
    sregs.cr0 = kCr0Pg | kCr0Pe;
    sregs.cr3 = 0x1000;
    sregs.cr4 = kCr4Pae;
    sregs.efer = kEferLme | kEferLma;
  }
  void set(uint64_t table, uint64_t index, uint64_t entry) {
    ASSERT_TRUE(mem.write(table + index * 8, {reinterpret_cast<uint8_t*>(&entry), 8}));
  }
  PageWalk walk(uint64_t va) const { return walk_page_tables(mem, sregs, va); }
  VectorMemory mem;
  kvm_sregs sregs{};
};

void expect_mapped(const PageWalk& w, uint64_t gpa) {
  EXPECT_EQ(w.kind, PageWalk::kMapped);
  EXPECT_EQ(w.gpa, gpa);
}

TEST(PageWalk, FourLevelPagingWith4KiBAnd2MiBPages) {
  Tables t;
  expect_mapped(t.walk(0x5123), 0x345123);
  expect_mapped(t.walk(0x2abcde), 0x2abcde);
  EXPECT_EQ(t.walk(0x6000).kind, PageWalk::kNotMapped);      // PTE 6 not present
  EXPECT_EQ(t.walk(0x400000).kind, PageWalk::kNotMapped);    // PDE 2 not present
  EXPECT_EQ(t.walk(1ull << 39).kind, PageWalk::kNotMapped);  // PML4E 1 not present
}

TEST(PageWalk, PagingOffIsPhysical) {
  Tables t;
  t.sregs.cr0 = kCr0Pe;
  expect_mapped(t.walk(0x5123), 0x5123);
  expect_mapped(t.walk(0xfee00000), 0xfee00000);  // as KVM's nonpaging walk
}

TEST(PageWalk, PcidBitsOfCr3AreNotTheTableAddress) {
  Tables t;
  t.sregs.cr3 = 0x1000 | 0x123;
  expect_mapped(t.walk(0x5123), 0x345123);
}

TEST(PageWalk, OtherPagingModesAreLeftToKvm) {
  for (auto change : {+[](kvm_sregs& s) { s.cr4 &= ~kCr4Pae; },    // 32-bit paging
                      +[](kvm_sregs& s) { s.efer &= ~kEferLma; },  // PAE paging
                      +[](kvm_sregs& s) { s.cr4 |= kCr4La57; },    // 5-level paging
                      +[](kvm_sregs& s) { s.cr4 |= kCr4Pks; }}) {
    Tables t;
    change(t.sregs);
    EXPECT_EQ(t.walk(0x5123).kind, PageWalk::kAskKvm);
  }
}

TEST(PageWalk, NonCanonicalAddressIsLeftToKvm) {
  Tables t;
  EXPECT_EQ(t.walk(0x0000'8000'0000'5123ull).kind, PageWalk::kAskKvm);
}

TEST(PageWalk, GiBPagesAndReservedBitsAreLeftToKvm) {
  Tables t;
  t.set(0x2000, 1, 0x40000000 | kP | kRw | kPs);  // 1 GiB page at va 1 GiB
  EXPECT_EQ(t.walk(0x40001000).kind, PageWalk::kAskKvm);
  t.set(0x1000, 2, 0x2000 | kP | kRw | kPs);  // PS in a PML4E
  EXPECT_EQ(t.walk(2ull << 39).kind, PageWalk::kAskKvm);
  t.set(0x3000, 1, 0x200000 | 0x2000 | kP | kRw | kPs);  // bit 13 of a 2 MiB page
  EXPECT_EQ(t.walk(0x2abcde).kind, PageWalk::kAskKvm);
}

TEST(PageWalk, NoExecuteBitIsReservedWithoutEferNxe) {
  Tables t;
  t.set(0x4000, 5, 0x345000 | kP | kNx);
  EXPECT_EQ(t.walk(0x5123).kind, PageWalk::kAskKvm);
  t.sregs.efer |= kEferNxe;
  expect_mapped(t.walk(0x5123), 0x345123);
}

TEST(PageWalk, TablesAndPagesOutsideRamAreLeftToKvm) {
  Tables t;
  t.set(0x4000, 7, 0xfee00000 | kP | kRw);  // the local APIC page: MMIO
  EXPECT_EQ(t.walk(0x7000).kind, PageWalk::kAskKvm);
  t.set(0x3000, 3, 0x8000'0000ull | kP | kRw);  // a page table beyond RAM
  EXPECT_EQ(t.walk(0x600000).kind, PageWalk::kAskKvm);
}

TEST(PageWalk, UserPagesUnderSmapAreLeftToKvm) {
  Tables t;
  t.sregs.cr4 |= kCr4Smap;
  expect_mapped(t.walk(0x5123), 0x345123);  // a supervisor page
  t.set(0x1000, 0, 0x2000 | kP | kRw | kUs);
  t.set(0x2000, 0, 0x3000 | kP | kRw | kUs);
  t.set(0x3000, 0, 0x4000 | kP | kRw | kUs);
  expect_mapped(t.walk(0x5123), 0x345123);  // U/S clear in the PTE: still supervisor
  t.set(0x4000, 5, 0x345000 | kP | kRw | kUs);
  EXPECT_EQ(t.walk(0x5123).kind, PageWalk::kAskKvm);
}

}  // namespace
}  // namespace rrvm
