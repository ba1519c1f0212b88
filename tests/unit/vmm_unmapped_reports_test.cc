#include <gtest/gtest.h>

#include "vmm/exit_dispatch.h"

namespace rrvm {
namespace {

using V = UnmappedReports::Verdict;

TEST(UnmappedReports, OncePerPortAndOncePerMemoryPage) {
  UnmappedReports r;
  EXPECT_EQ(r.note(false, 0x92), V::kReport);
  EXPECT_EQ(r.note(false, 0x92), V::kSilent);
  EXPECT_EQ(r.note(false, 0x93), V::kReport);  // ports are not grouped
  EXPECT_EQ(r.note(true, 0xfee00000), V::kReport);
  for (uint64_t off = 4; off < 0x1000; off += 4) {
    EXPECT_EQ(r.note(true, 0xfee00000 + off), V::kSilent) << off;
  }
  EXPECT_EQ(r.note(true, 0xfee01000), V::kReport);
  EXPECT_EQ(r.note(false, 0xfee00000), V::kReport);  // a port is not a page
}

TEST(UnmappedReports, GoesQuietAfterTheLimitWithOneLastReport) {
  UnmappedReports r;
  for (size_t i = 0; i + 1 < UnmappedReports::kMax; ++i) {
    EXPECT_EQ(r.note(true, i << 12), V::kReport);
  }
  EXPECT_FALSE(r.exhausted());
  EXPECT_EQ(r.note(true, uint64_t{UnmappedReports::kMax} << 12), V::kLast);
  EXPECT_TRUE(r.exhausted());
  EXPECT_EQ(r.note(false, 0x1234), V::kSilent);
  EXPECT_EQ(r.note(true, 0xdead0000), V::kSilent);
}

}  // namespace
}  // namespace rrvm
