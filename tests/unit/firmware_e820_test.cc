// The PC memory map: conventional memory up to the EBDA, the legacy hole,
// upper memory to the PCI hole, RAM above 4 GiB (ACPI "INT 15H, E820H";
// PC memory layout as in the MP spec 1.4, 4.1 for the EBDA/BIOS areas).
#include <gtest/gtest.h>

#include "firmware/e820.h"

namespace rrvm {
namespace {

constexpr uint64_t MiB = 1ull << 20, GiB = 1ull << 30;

bool operator==(const E820Entry& a, const E820Entry& b) {
  return a.addr == b.addr && a.size == b.size && a.type == b.type;
}

TEST(E820, PcMapFor256MiB) {
  std::vector<E820Entry> want = {
      {0x0, 0x9FC00, 1},         // 639 KiB conventional memory
      {0x9FC00, 0x400, 2},       // EBDA
      {0xE0000, 0x20000, 2},     // BIOS area: ACPI and MP tables
      {0x100000, 255 * MiB, 1},  // upper memory
      {0xFEC00000, 0x1000, 2},   // IOAPIC
      {0xFEE00000, 0x1000, 2},   // LAPIC
  };
  std::vector<E820Entry> got = build_e820(256 * MiB);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(got[i] == want[i]) << "entry " << i << ": " << std::hex << got[i].addr << "+"
                                   << got[i].size << " type " << got[i].type;
  }
}

TEST(E820, RamAbovePciHoleResumesAt4GiB) {
  std::vector<E820Entry> map = build_e820(4 * GiB);
  EXPECT_TRUE(e820_contains(map, 1 * MiB, 3 * GiB - 1 * MiB));
  EXPECT_FALSE(e820_contains(map, 3 * GiB, 1));  // the hole is not RAM
  EXPECT_TRUE(e820_contains(map, 4 * GiB, 1 * GiB));
  EXPECT_FALSE(e820_contains(map, 5 * GiB, 1));
  uint64_t ram = 0;
  for (const E820Entry& e : map)
    if (e.type == kE820Ram) ram += e.size;
  EXPECT_EQ(ram, 4 * GiB - 1 * MiB + 0x9FC00);  // all RAM except the EBDA and the 640K-1M hole
}

TEST(E820, EntriesAreSortedAndDisjoint) {
  for (uint64_t size : {2 * MiB, 255 * MiB, 3 * GiB, 3 * GiB + 4096, 64 * GiB}) {
    std::vector<E820Entry> map = build_e820(size);
    for (size_t i = 1; i < map.size(); ++i) {
      EXPECT_LE(map[i - 1].addr + map[i - 1].size, map[i].addr)
          << "size " << size << " entry " << i;
    }
    for (const E820Entry& e : map) EXPECT_GT(e.size, 0u);
  }
}

TEST(E820, ApicPagesAreReservedNotRam) {
  std::vector<E820Entry> map = build_e820(8 * GiB);
  EXPECT_TRUE(e820_contains(map, 0xFEC00000, 0x1000, kE820Reserved));
  EXPECT_TRUE(e820_contains(map, 0xFEE00000, 0x1000, kE820Reserved));
  EXPECT_FALSE(e820_contains(map, 0xFEE00000, 1, kE820Ram));
}

TEST(E820, EbdaAndBiosAreaAreReserved) {
  std::vector<E820Entry> map = build_e820(64 * MiB);
  EXPECT_TRUE(e820_contains(map, 0x9FC00, 0x400, kE820Reserved));
  EXPECT_TRUE(e820_contains(map, 0xF0000, 0x10000, kE820Reserved));
  EXPECT_FALSE(e820_contains(map, 0xA0000, 1, kE820Ram));  // VGA window
  EXPECT_FALSE(e820_contains(map, 0x9FBFF, 2, kE820Ram));  // crosses into the EBDA
}

TEST(E820, TinyRamListsOnlyWhatExists) {
  std::vector<E820Entry> map = build_e820(512 * 1024);
  EXPECT_TRUE(map[0] == (E820Entry{0, 512 * 1024, kE820Ram}));
  EXPECT_EQ(e820_usable_at(map, kHighMemStart), 0u);
}

TEST(E820, UsableAtGivesConventionalAndUpperSizes) {
  std::vector<E820Entry> map = build_e820(32 * MiB);
  EXPECT_EQ(e820_usable_at(map, 0), 639u * 1024);
  EXPECT_EQ(e820_usable_at(map, kHighMemStart), 31 * MiB);
  EXPECT_EQ(e820_usable_at(map, 0x9FC00), 0u);  // reserved, not usable
}

TEST(E820, ContainsRejectsRangesThatWrap) {
  std::vector<E820Entry> map = build_e820(64 * MiB);
  EXPECT_FALSE(e820_contains(map, 2 * MiB, UINT64_MAX));
  EXPECT_FALSE(e820_contains(map, UINT64_MAX, 2));
  EXPECT_TRUE(e820_contains(map, 64 * MiB, 0));  // empty range at the end
}

// The BIOS E820 record (ACPI 6.5, 15.1: base, length, type) as the Linux
// zero page and QEMU's etc/e820 pack it: 20 bytes, little-endian.
TEST(E820, BytesArePacked20ByteRecords) {
  std::vector<E820Entry> map = {{0x1122334455667788, 0x0102030405060708, kE820Reserved},
                                {0x100000, 0x200000, kE820Ram}};
  std::vector<uint8_t> b = e820_bytes(map);
  ASSERT_EQ(b.size(), 2 * kE820EntryBytes);
  std::vector<uint8_t> first(b.begin(), b.begin() + 20);
  EXPECT_EQ(first, (std::vector<uint8_t>{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 8, 7,
                                         6,    5,    4,    3,    2,    1,    2,    0,    0, 0}));
  EXPECT_EQ(b[20 + 2], 0x10);  // 0x100000
  EXPECT_EQ(b[20 + 8 + 2], 0x20);
  EXPECT_EQ(b[20 + 16], kE820Ram);
  EXPECT_TRUE(e820_bytes({}).empty());
}

}  // namespace
}  // namespace rrvm
