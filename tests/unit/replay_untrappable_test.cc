#include "replay/untrappable.h"

#include <gtest/gtest.h>

namespace rrvm {
namespace {

TEST(Untrappable, FindsRdtscRdrandRdseedAndRdtscp) {
  std::vector<uint8_t> code = {
      0x90,                    // nop
      0x0F, 0x31,              // rdtsc            at base+1
      0x48, 0x0F, 0xC7, 0xF0,  // rdrand rax       at base+3
      0x0F, 0xC7, 0xF9,        // rdseed ecx       at base+7
      0x0F, 0x01, 0xF9,        // rdtscp           at base+10
      0xC3,                    // ret
  };
  auto hits = find_untrappable(code, 0x1000);
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[0].address, 0x1001u);
  EXPECT_EQ(hits[0].text, "rdtsc");
  EXPECT_EQ(hits[1].address, 0x1003u);
  EXPECT_EQ(hits[1].text, "rdrand rax");
  EXPECT_EQ(hits[2].text, "rdseed ecx");
  EXPECT_EQ(hits[3].text, "rdtscp");
}

TEST(Untrappable, IgnoresLookalikeBytes) {
  // cmpxchg8b [rax] is 0F C7 /1 with a memory operand; an immediate 0x0F31.
  std::vector<uint8_t> code = {0x0F, 0xC7, 0x08, 0xB8, 0x0F, 0x00, 0x00, 0x00, 0x90};
  EXPECT_TRUE(find_untrappable(code, 0).empty());
  EXPECT_TRUE(find_untrappable({}, 0).empty());
}

}  // namespace
}  // namespace rrvm
