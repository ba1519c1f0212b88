// Port 0x80 POST code latch.
#include "devices/post_port.h"

#include <gtest/gtest.h>

#include <vector>

namespace rrvm {
namespace {

TEST(PostPort, ReadReturnsTheLastWrittenCode) {
  PostPort post;
  uint8_t b[1] = {0xaa};
  post.read(0, b);
  EXPECT_EQ(b[0], 0x00);
  const uint8_t w1[1] = {0x55}, w2[1] = {0x3c};
  post.write(0, w1);
  post.write(0, w2);
  post.read(0, b);
  EXPECT_EQ(b[0], 0x3c);
  EXPECT_EQ(post.last_code(), 0x3c);
  EXPECT_EQ(post.writes(), 2u);
}

TEST(PostPort, CallbackSeesEveryCode) {
  std::vector<uint8_t> seen;
  PostPort post([&](uint8_t c) { seen.push_back(c); });
  for (uint8_t c : {0x01, 0x02, 0xff}) {
    const uint8_t w[1] = {c};
    post.write(0, w);
  }
  EXPECT_EQ(seen, (std::vector<uint8_t>{0x01, 0x02, 0xff}));
}

TEST(PostPort, WideAccessUsesOnlyTheFirstByte) {
  PostPort post;
  const uint8_t w[4] = {0x12, 0x34, 0x56, 0x78};
  post.write(0, w);
  EXPECT_EQ(post.last_code(), 0x12);
  EXPECT_EQ(post.writes(), 1u);
  uint8_t r[2] = {0, 0};
  post.read(0, r);
  EXPECT_EQ(r[0], 0x12);
  EXPECT_EQ(r[1], 0xff);
  const uint8_t off[1] = {0x99};
  post.write(1, off);  // beyond the one port
  EXPECT_EQ(post.last_code(), 0x12);
}

TEST(PostPort, SaveRestoreRoundTrip) {
  PostPort a;
  const uint8_t w[1] = {0xe4};
  a.write(0, w);
  PostPort b;
  b.restore(a.save());
  EXPECT_EQ(b.last_code(), 0xe4);
  EXPECT_EQ(b.writes(), 1u);
}

}  // namespace
}  // namespace rrvm
