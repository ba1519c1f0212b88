// Guest RAM checkpoints without KVM: a fake dirty log stands in for
// KVM's, a "guest" writes pages behind the VMM's back and marks them in
// it. Restores must bring back every byte, store only what was written,
// and write back only what can differ.
#include "vmm/ram_checkpoints.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

namespace rrvm {
namespace {

constexpr uint64_t kPage = 4096;

struct FakeGuest {
  FakeGuest() {
    bits.assign(ram.size() / kPage / 64, 0);
    ram.enable_dirty_log([this](uint32_t, std::span<uint64_t> out) {
      std::copy(bits.begin(), bits.end(), out.begin());
      std::fill(bits.begin(), bits.end(), 0);
    });
  }
  // The guest stores `value` over [gpa, gpa + len): KVM logs the pages.
  void write(uint64_t gpa, uint8_t value, uint64_t len = 1) {
    std::memset(host() + gpa, value, len);
    for (uint64_t p = gpa / kPage; p <= (gpa + len - 1) / kPage; ++p)
      bits[p / 64] |= 1ull << (p % 64);
  }
  // A write nobody logs (to see which pages a restore touches).
  void write_unlogged(uint64_t gpa, uint8_t value) { host()[gpa] = value; }
  uint8_t* host() { return ram.regions()[0].host; }
  std::vector<uint8_t> contents() { return {host(), host() + ram.size()}; }

  GuestRam ram{4 << 20};  // 1024 pages
  std::vector<uint64_t> bits;
};

TEST(RamCheckpoints, ACheckpointStoresThePagesWrittenSinceItsParent) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  g.write(0x1000, 1);
  g.write(0x5000, 2, 2 * kPage);  // pages 5 and 6
  auto a = cps.take();
  EXPECT_EQ(cps.delta_pages(a), 3u);
  g.write(0x5000, 3);
  auto b = cps.take();
  EXPECT_EQ(cps.delta_pages(b), 1u);
  g.write(0x1000, 1);  // written back with what it held
  auto c = cps.take();
  EXPECT_EQ(cps.delta_pages(c), 0u);
  EXPECT_EQ(cps.store().pages(), 3u) << "pages 1, 6 (5's old contents), 5's new contents";
}

TEST(RamCheckpoints, VmmWritesAreCheckpointedToo) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  ASSERT_TRUE(g.ram.write(0x3000, std::vector<uint8_t>(100, 9)));  // a loader or DMA
  auto a = cps.take();
  EXPECT_EQ(cps.delta_pages(a), 1u);
  ASSERT_TRUE(g.ram.write(0x3000, std::vector<uint8_t>(100, 0)));
  cps.restore(a);
  EXPECT_EQ(g.host()[0x3000], 9);
}

TEST(RamCheckpoints, MustSeeTheRamFromItsFirstWrite) {
  FakeGuest g;
  ASSERT_TRUE(g.ram.write(0, std::vector<uint8_t>(1, 1)));
  EXPECT_THROW(RamCheckpoints cps(g.ram), std::logic_error);
  GuestRam no_log(2 << 20);
  EXPECT_THROW(RamCheckpoints cps(no_log), std::logic_error);
}

// Random writes between checkpoints, then restores in random order, each
// compared byte for byte with a full copy taken at the checkpoint.
TEST(RamCheckpoints, RestoresBringBackEveryByteInAnyOrder) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  std::mt19937 rng(7);
  std::map<RamCheckpoints::Id, std::vector<uint8_t>> copies;
  auto scribble = [&] {
    for (int i = 0; i < 40; ++i) {
      g.write(rng() % (g.ram.size() - 3 * kPage), uint8_t(rng()), 1 + rng() % (3 * kPage));
    }
  };
  for (int i = 0; i < 8; ++i) {
    scribble();
    auto id = cps.take();
    copies[id] = g.contents();
  }
  std::vector<RamCheckpoints::Id> order;
  for (auto& [id, c] : copies) order.push_back(id);
  for (int round = 0; round < 3; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    for (auto id : order) {
      scribble();  // the live RAM moved on since the basis
      cps.restore(id);
      ASSERT_TRUE(g.contents() == copies[id]) << "checkpoint " << id << ", round " << round;
      EXPECT_EQ(cps.digest_now(), cps.digest(id));
    }
  }
}

TEST(RamCheckpoints, ARestoreWritesOnlyPagesThatCanDiffer) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  g.write(0x2000, 1);
  auto a = cps.take();
  g.write(0x2000, 2);
  g.write(0x9000, 3);
  auto b = cps.take();
  g.write(0x40000, 4);
  g.write_unlogged(0x80000, 0x77);  // a page neither dirty nor in a delta
  cps.restore(a);
  EXPECT_EQ(g.host()[0x2000], 1);
  EXPECT_EQ(g.host()[0x9000], 0);
  EXPECT_EQ(g.host()[0x40000], 0);
  EXPECT_EQ(g.host()[0x80000], 0x77) << "untouched by the restore";
  cps.restore(b);
  EXPECT_EQ(g.host()[0x2000], 2);
  EXPECT_EQ(g.host()[0x9000], 3);
}

TEST(RamCheckpoints, BranchesAfterARestoreKeepBothFutures) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  g.write(0x1000, 1);
  auto root = cps.take();
  g.write(0x2000, 2);
  auto left = cps.take();
  cps.restore(root);
  g.write(0x3000, 3);
  auto right = cps.take();  // a sibling of `left`
  EXPECT_EQ(cps.children(root), 2u);
  cps.restore(left);
  EXPECT_EQ(g.host()[0x2000], 2);
  EXPECT_EQ(g.host()[0x3000], 0);
  cps.restore(right);
  EXPECT_EQ(g.host()[0x2000], 0);
  EXPECT_EQ(g.host()[0x3000], 3);
  EXPECT_EQ(g.host()[0x1000], 1);
}

TEST(RamCheckpoints, DroppingACheckpointHandsItsPagesToItsChildren) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  g.write(0x1000, 1);
  auto a = cps.take();
  g.write(0x2000, 2);  // only b has this page
  g.write(0x3000, 3);  // c overwrites it
  auto b = cps.take();
  g.write(0x3000, 4);
  auto c = cps.take();
  std::vector<uint8_t> at_c = g.contents();
  size_t pages = cps.store().pages();
  cps.drop(b);
  EXPECT_FALSE(cps.contains(b));
  EXPECT_EQ(cps.store().pages(), pages - 1) << "b's page 3 went, its page 2 passed to c";
  EXPECT_EQ(cps.delta_pages(c), 2u);
  cps.restore(a);
  EXPECT_EQ(g.host()[0x2000], 0);
  cps.restore(c);
  EXPECT_TRUE(g.contents() == at_c);
  cps.drop(a);  // the root: c becomes one
  cps.restore(c);
  EXPECT_TRUE(g.contents() == at_c);
  EXPECT_THROW(cps.restore(a), std::out_of_range);
}

TEST(RamCheckpoints, DroppingTheBasisKeepsTheNextCheckpointExact) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  g.write(0x1000, 1);
  auto a = cps.take();
  g.write(0x2000, 2);
  auto b = cps.take();
  cps.drop(b);  // the live RAM was taken from b
  g.write(0x3000, 3);
  auto c = cps.take();
  std::vector<uint8_t> at_c = g.contents();
  cps.restore(a);
  cps.restore(c);
  EXPECT_TRUE(g.contents() == at_c) << "page 2, written before b, is in c";
}

TEST(RamCheckpoints, TheDigestDependsOnContentsNotOnTheWayThere) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  auto empty = cps.take();
  EXPECT_EQ(cps.digest(empty), 0u) << "all-zero RAM";
  g.write(0x1000, 5);
  g.write(0x2000, 6);
  auto x = cps.take();
  g.write(0x1000, 0, kPage);
  EXPECT_NE(cps.digest_now(), cps.digest(x));
  g.write(0x2000, 0, kPage);
  EXPECT_EQ(cps.digest_now(), 0u) << "zeroed again";
  g.write(0x2000, 6);
  g.write(0x1000, 5);
  EXPECT_EQ(cps.digest_now(), cps.digest(x)) << "same contents, other order";
  g.write(0x1000, 6);
  g.write(0x2000, 5);
  EXPECT_NE(cps.digest_now(), cps.digest(x)) << "the same pages swapped are other RAM";
}

TEST(RamCheckpoints, EqualPagesAreSharedAcrossCheckpoints) {
  FakeGuest g;
  RamCheckpoints cps(g.ram);
  for (uint64_t p = 0; p < 64; ++p) g.write(p * kPage, 0x42, kPage);
  cps.take();
  EXPECT_EQ(cps.store().pages(), 1u) << "64 identical pages";
  for (uint64_t p = 0; p < 64; ++p) g.write(p * kPage, uint8_t(p + 1), kPage);
  cps.take();
  EXPECT_EQ(cps.store().pages(), 65u);
  EXPECT_GE(cps.bytes_used(), 65 * kPage);
}

}  // namespace
}  // namespace rrvm
