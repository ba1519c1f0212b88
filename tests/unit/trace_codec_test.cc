// The chunk encoding (trace.capnp, Chunk): varints, deltas per port and per
// clock source, "as modelled" reads, and the decoder's checks on malformed
// chunks.
#include <gtest/gtest.h>

#include <capnp/message.h>

#include "tests/unit/trace_test_util.h"
#include "trace/chunk_codec.h"
#include "trace/varint.h"

namespace rrvm::trace {
namespace {

using namespace testing;

std::vector<uint8_t> varint(uint64_t v) {
  std::vector<uint8_t> out;
  put_varint(out, v);
  return out;
}

TEST(TraceVarint, Leb128AndZigzagFollowTheirDefinitions) {
  EXPECT_EQ(varint(0), (std::vector<uint8_t>{0}));
  EXPECT_EQ(varint(127), (std::vector<uint8_t>{0x7f}));
  EXPECT_EQ(varint(128), (std::vector<uint8_t>{0x80, 0x01}));
  EXPECT_EQ(varint(300), (std::vector<uint8_t>{0xac, 0x02}));
  EXPECT_EQ(varint(~uint64_t{0}).size(), 10u);
  EXPECT_EQ(zigzag(0), 0u);
  EXPECT_EQ(zigzag(uint64_t(-1)), 1u);
  EXPECT_EQ(zigzag(1), 2u);
  EXPECT_EQ(zigzag(uint64_t(-2)), 3u);
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, ~uint64_t{0}, uint64_t{1} << 63, uint64_t{12345}})
    EXPECT_EQ(unzigzag(zigzag(v)), v);
}

TEST(TraceVarint, CursorRejectsOverlongAndShortInput) {
  std::vector<uint8_t> eleven(11, 0x80);
  Cursor c(eleven, 7, "test");
  EXPECT_THROW(c.varint(), TraceError);
  std::vector<uint8_t> too_big = varint(~uint64_t{0});
  too_big.back() = 0x02;  // bit 64
  Cursor big(too_big, 7, "test");
  EXPECT_THROW(big.varint(), TraceError);
  std::vector<uint8_t> cut = {0x80};
  Cursor short_one(cut, 7, "test");
  try {
    short_one.varint();
    ADD_FAILURE();
  } catch (const TraceError& e) {
    EXPECT_EQ(e.offset(), 7u);
  }
}

// Encodes `items` as one chunk and decodes it again.
struct Coded {
  capnp::MallocMessageBuilder msg;
  schema::Chunk::Builder chunk = msg.initRoot<schema::Chunk>();
  explicit Coded(const std::vector<Item>& items) {
    ChunkEncoder enc;
    encode_items(enc, items);
    enc.finish(chunk);
  }
  std::vector<Item> decode() {
    EventBatch b;
    decode_chunk(chunk.asReader(), 1000, b);
    std::vector<Item> out;
    size_t l = 0, p = 0, t = 0;
    for (const Event& e : b.events) {
      Item it{e, {}, {}};
      if (e.kind == EventKind::kLandmark) it.landmark = b.landmarks[l++];
      if (kind_has_bytes(e.kind)) it.bytes = b.payloads[p++];
      if (kind_has_text(e.kind)) it.bytes.assign(b.texts[t].begin(), b.texts[t].end()), ++t;
      out.push_back(it);
    }
    return out;
  }
};

TEST(TraceChunk, EveryKindRoundTrips) {
  std::vector<Item> items = random_items(11, 3000);
  Coded c(items);
  std::vector<Item> got = c.decode();
  ASSERT_EQ(got.size(), items.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected(items[i])) << i;
}

TEST(TraceChunk, ModelledReadsStoreNoValue) {
  std::vector<Item> stored, modelled;
  for (uint64_t i = 0; i < 100; ++i) {
    stored.push_back({Event::port_read(i, 0x40, 1, (i * 37) & 0xff, false), {}, {}});
    modelled.push_back({Event::port_read(i, 0x40, 1, (i * 37) & 0xff, true), {}, {}});
  }
  EXPECT_GT(Coded(stored).chunk.getValues().size(), 100u);
  EXPECT_EQ(Coded(modelled).chunk.getValues().size(), 0u);
  for (const Item& it : Coded(modelled).decode()) {
    EXPECT_TRUE(it.event.modelled());
    EXPECT_EQ(it.event.value(), 0u);
  }
}

// Two clock sources read alternately, each advancing by 1000 ns: each value
// is a 2-byte delta from its own source's previous value, not a large jump
// between the sources.
TEST(TraceChunk, ClockValuesAreDeltasPerSource) {
  std::vector<Item> items;
  for (uint64_t i = 0; i < 100; ++i) {
    items.push_back({Event::clock_read(i, 0, 5'000'000'000 + i * 1000), {}, {}});
    items.push_back({Event::clock_read(i, 1, 9'000'000'000 + i * 1000), {}, {}});
  }
  Coded c(items);
  EXPECT_LE(c.chunk.getValues().size(), 2 * 200u + 10);
  EXPECT_EQ(c.decode(), items);
}

TEST(TraceChunk, OrdinalsAreDeltas) {
  std::vector<Item> items;
  for (uint64_t i = 0; i < 1000; ++i)
    items.push_back({Event::reg_digest(1'000'000 + i, i), {}, {}});
  Coded c(items);
  EXPECT_EQ(c.chunk.getFirstOrdinal(), 1'000'000u);
  EXPECT_EQ(c.chunk.getOrdinals().size(), 1000u);  // one byte each
}

// A well-formed chunk, then one field broken at a time: every break is a
// TraceError naming the frame offset given to the decoder.
TEST(TraceChunk, MalformedChunksAreErrorsWithTheOffset) {
  std::vector<Item> items = random_items(12, 200);
  auto expect_error = [](schema::Chunk::Builder chunk, const char* what) {
    EventBatch b;
    try {
      decode_chunk(chunk.asReader(), 4242, b);
      ADD_FAILURE() << what << " was accepted";
    } catch (const TraceError& e) {
      EXPECT_EQ(e.offset(), 4242u) << what;
    }
  };
  auto with = [&](auto change, const char* what) {
    Coded c(items);
    change(c.chunk);
    expect_error(c.chunk, what);
  };
  with([](auto ch) { ch.setCount(ch.getCount() + 1); }, "count");
  with([](auto ch) { ch.getKinds()[0] = 63; }, "unknown kind");
  with([](auto ch) { ch.getKinds()[0] |= 0x40; }, "reserved bit");
  with(
      [](auto ch) {
        for (auto& k : ch.getKinds()) {
          if ((k & 0x3f) == uint8_t(EventKind::kRegDigest)) k |= 0x80;
        }
      },
      "flag on a kind without one");
  with([](auto ch) { ch.setArgs(ch.getArgs().slice(0, ch.getArgs().size() - 1)); }, "short args");
  with([](auto ch) { ch.setValues(ch.getValues().slice(0, 3)); }, "short values");
  with(
      [](auto ch) {
        std::vector<uint8_t> longer(ch.getOrdinals().begin(), ch.getOrdinals().end());
        longer.push_back(0);
        ch.setOrdinals(kj::arrayPtr(longer.data(), longer.size()));
      },
      "trailing ordinals");
  with([](auto ch) { ch.initLandmarks(0); }, "missing landmarks");
  with([](auto ch) { ch.setPayloads(kj::ArrayPtr<const uint8_t>()); }, "missing payloads");
}

}  // namespace
}  // namespace rrvm::trace
