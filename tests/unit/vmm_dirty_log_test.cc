// The dirty-log owner: every consumer sees every page written since it
// subscribed, whoever fetched KVM's log; VMM writes reach only the
// consumers that asked for them.
#include "vmm/dirty_log.h"

#include <gtest/gtest.h>

#include "vmm/guest_ram.h"

namespace rrvm {
namespace {

// KVM's side: a bitmap per slot that a fetch returns and clears.
struct FakeKvmLog {
  explicit FakeKvmLog(std::vector<uint64_t> pages) {
    for (uint64_t p : pages) bits.emplace_back((p + 63) / 64, 0);
  }
  void guest_wrote(uint32_t slot, uint64_t page) { bits[slot][page / 64] |= 1ull << (page % 64); }
  DirtyLog::Fetch fetch() {
    return [this](uint32_t slot, std::span<uint64_t> out) {
      ++fetches;
      for (size_t i = 0; i < out.size(); ++i) out[i] = bits[slot][i];
      std::fill(bits[slot].begin(), bits[slot].end(), 0);
    };
  }
  std::vector<std::vector<uint64_t>> bits;
  int fetches = 0;
};

std::vector<std::pair<uint32_t, uint64_t>> pages_of(const DirtyPages& d) {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  d.for_each([&](uint32_t slot, uint64_t page) { out.push_back({slot, page}); });
  return out;
}

using Pages = std::vector<std::pair<uint32_t, uint64_t>>;

TEST(DirtyLog, EveryConsumerSeesEveryWriteWhoeverFetches) {
  FakeKvmLog kvm({128, 64});
  DirtyLog log({128, 64}, kvm.fetch());
  DirtyPages a(log, false), b(log, false);
  kvm.guest_wrote(0, 3);
  kvm.guest_wrote(1, 63);
  a.collect();  // fetches for both
  kvm.guest_wrote(0, 100);
  b.collect();
  EXPECT_EQ(pages_of(a), (Pages{{0, 3}, {0, 100}, {1, 63}}));
  EXPECT_EQ(pages_of(b), pages_of(a));
  a.clear();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(b.count(), 3u) << "clearing one consumer leaves the others alone";
}

TEST(DirtyLog, ALateConsumerStartsEmpty) {
  FakeKvmLog kvm({64});
  DirtyLog log({64}, kvm.fetch());
  DirtyPages early(log, false);
  kvm.guest_wrote(0, 5);
  DirtyPages late(log, false);
  kvm.guest_wrote(0, 6);
  late.collect();
  EXPECT_EQ(pages_of(late), (Pages{{0, 6}}));
  EXPECT_EQ(pages_of(early), (Pages{{0, 5}, {0, 6}})) << "what was pending went to the early one";
}

TEST(DirtyLog, VmmWritesReachOnlyConsumersThatAskForThem) {
  GuestRam ram(4 << 20);
  FakeKvmLog kvm({1024});
  ram.enable_dirty_log(kvm.fetch());
  DirtyPages guest_only(*ram.dirty_log(), false), all(*ram.dirty_log(), true);
  std::vector<uint8_t> bytes(5000, 0xab);
  ASSERT_TRUE(ram.write(0x1ff0, bytes));  // pages 1, 2 and 3
  all.collect();
  EXPECT_EQ(pages_of(all), (Pages{{0, 1}, {0, 2}, {0, 3}}));
  EXPECT_EQ(guest_only.count(), 0u);
}

TEST(DirtyLog, AConsumerThatLeavesIsNoLongerFedAndRamKeepsNoLogWithoutOne) {
  FakeKvmLog kvm({64});
  DirtyLog log({64}, kvm.fetch());
  { DirtyPages gone(log, true); }
  kvm.guest_wrote(0, 1);
  log.sync();  // nothing to deliver to, nothing dereferenced
  log.mark_host_write(0, 0, 1);
  GuestRam plain(2 << 20);
  EXPECT_EQ(plain.dirty_log(), nullptr);
  EXPECT_TRUE(plain.write(0, std::vector<uint8_t>(10, 1)));
}

}  // namespace
}  // namespace rrvm

namespace rrvm {
namespace {

TEST(DirtyLog, ASetCanBePutBackAsItWas) {
  FakeKvmLog kvm({64});
  DirtyLog log({64}, kvm.fetch());
  DirtyPages d(log, false);
  kvm.guest_wrote(0, 9);
  d.collect();
  DirtyPages::Bits saved = d.bits();
  kvm.guest_wrote(0, 10);
  d.collect();
  d.assign(saved);
  EXPECT_EQ(pages_of(d), (Pages{{0, 9}}));
  EXPECT_THROW(d.assign(DirtyPages::Bits(2)), std::invalid_argument);
}

}  // namespace
}  // namespace rrvm
