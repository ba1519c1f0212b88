// The checkpoint page store: one copy per distinct page content, the zero
// page for free, pages freed with their last reference.
#include "vmm/page_store.h"

#include <gtest/gtest.h>

#include <cstring>

namespace rrvm {
namespace {

std::vector<uint8_t> page_of(uint8_t fill) {
  return std::vector<uint8_t>(PageStore::kPageSize, fill);
}

TEST(PageStore, EqualContentsAreStoredOnce) {
  PageStore s;
  auto a = page_of(7), b = page_of(7), c = page_of(8);
  PageStore::PageId ia = s.put(a.data()), ib = s.put(b.data()), ic = s.put(c.data());
  EXPECT_EQ(ia, ib);
  EXPECT_NE(ia, ic);
  EXPECT_EQ(s.pages(), 2u);
  EXPECT_EQ(s.refs(ia), 2u);
  EXPECT_EQ(std::memcmp(s.bytes(ic), c.data(), c.size()), 0);
}

TEST(PageStore, TheZeroPageCostsNothing) {
  PageStore s;
  uint64_t empty = s.bytes_used();
  auto z = page_of(0);
  EXPECT_EQ(s.put(z.data()), PageStore::kZeroPage);
  EXPECT_EQ(s.pages(), 0u);
  EXPECT_EQ(s.bytes_used(), empty);
  s.unref(PageStore::kZeroPage);  // harmless
  EXPECT_EQ(s.bytes(PageStore::kZeroPage)[100], 0);
}

TEST(PageStore, ThePageGoesWithItsLastReference) {
  PageStore s;
  auto a = page_of(1);
  PageStore::PageId id = s.put(a.data());
  s.ref(id);
  uint64_t with_page = s.bytes_used();
  s.unref(id);
  EXPECT_EQ(s.pages(), 1u);
  s.unref(id);
  EXPECT_EQ(s.pages(), 0u);
  EXPECT_LT(s.bytes_used(), with_page) << "the slot stays, its index entry goes";
  EXPECT_THROW(s.unref(id), std::logic_error);
  // The freed slot is reused, and the index no longer finds the old page.
  auto b = page_of(2);
  EXPECT_EQ(s.put(b.data()), id);
  EXPECT_NE(s.put(a.data()), id);
}

TEST(PageStore, PagesThatDifferInOneByteAreTwoPages) {
  PageStore s;
  auto a = page_of(3), b = page_of(3);
  b[4095] = 4;
  EXPECT_NE(s.put(a.data()), s.put(b.data()));
  EXPECT_EQ(s.pages(), 2u);
}

}  // namespace
}  // namespace rrvm
