// isa-debug-exit behaviour as QEMU defines it (hw/misc/debugexit.c).
#include "devices/debug_exit.h"

#include <gtest/gtest.h>

#include <vector>

namespace rrvm {
namespace {

struct Rig {
  std::vector<int> statuses;
  DebugExit dev{[this](int s) { statuses.push_back(s); }};
};

TEST(DebugExit, ByteWriteRequestsExitWithShiftedStatus) {
  Rig r;
  const uint8_t v[1] = {0x10};
  r.dev.write(0, v);
  ASSERT_EQ(r.statuses.size(), 1u);
  EXPECT_EQ(r.statuses[0], 0x21);  // (0x10 << 1) | 1
  EXPECT_EQ(r.dev.save().status, 0x21);
}

TEST(DebugExit, ZeroGivesStatusOne) {
  Rig r;
  const uint8_t v[1] = {0};
  r.dev.write(0, v);
  EXPECT_EQ(r.statuses.at(0), 1);
}

TEST(DebugExit, WiderWritesUseTheWholeLittleEndianValue) {
  Rig r;
  const uint8_t w[2] = {0x02, 0x01};
  r.dev.write(0, w);
  EXPECT_EQ(r.statuses.at(0), 0x205);
  const uint8_t l[4] = {0xff, 0xff, 0xff, 0x7f};
  r.dev.write(0, l);
  EXPECT_EQ(r.statuses.at(1), -1);  // 0xffffffff as QEMU's int
}

TEST(DebugExit, EightByteWriteKeepsTheLowFourBytes) {
  Rig r;
  const uint8_t q[8] = {0x03, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd};
  r.dev.write(0, q);
  EXPECT_EQ(r.statuses.at(0), 7);
}

TEST(DebugExit, EveryOffsetBehavesTheSame) {
  Rig r;
  const uint8_t v[1] = {0x01};
  r.dev.write(1, v);
  EXPECT_EQ(r.statuses.at(0), 3);
}

TEST(DebugExit, ReadsReturnZero) {
  Rig r;
  uint8_t b[4] = {0xaa, 0xaa, 0xaa, 0xaa};
  r.dev.read(0, b);
  for (uint8_t x : b) EXPECT_EQ(x, 0);
  EXPECT_TRUE(r.statuses.empty());  // a read is not an exit request
}

TEST(DebugExit, EmptyWriteAndMissingCallbackAreHarmless) {
  Rig r;
  r.dev.write(0, std::span<const uint8_t>());
  EXPECT_TRUE(r.statuses.empty());
  DebugExit quiet{nullptr};
  const uint8_t v[1] = {4};
  quiet.write(0, v);
  EXPECT_EQ(quiet.save().status, 9);
}

TEST(DebugExit, SaveRestoreRoundTrip) {
  Rig a;
  const uint8_t v[1] = {0x2a};
  a.dev.write(0, v);
  Rig b;
  EXPECT_FALSE(b.dev.save().requested);
  b.dev.restore(a.dev.save());
  EXPECT_TRUE(b.dev.save().requested);
  EXPECT_EQ(b.dev.save().status, 0x55);
  EXPECT_TRUE(b.statuses.empty());  // restoring does not request an exit again
}

}  // namespace
}  // namespace rrvm
