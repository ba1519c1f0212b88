// Hostile traces (issue 15), each built record by record with valid
// checksums (tests/unit/trace_builder.h), so the reader's logic, not zstd's
// checksum, is what has to refuse them: blobs larger than the machine,
// chunks declaring millions of events, hashes of the wrong shape, footers
// out of place, footers that disagree with the events.
#include <gtest/gtest.h>

#include "tests/unit/trace_test_util.h"
#include "trace/trace_inspect.h"

namespace rrvm::trace {
namespace {

using namespace testing;

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    TraceReader r(bytes);
  } catch (const TraceError& e) {
    return e.what();
  }
  return "";
}

HeaderInfo header_with_ram(uint64_t bytes) {
  HeaderInfo h = test_header();
  h.config[0] = {"mem", std::to_string(bytes)};
  return h;
}

std::vector<Item> run_ending(uint64_t ordinal, int64_t status, const std::string& why) {
  std::vector<Item> items = {{Event::port_read(1, 0x3fd, 1, 0x60), {}, {}},
                             {Event::clock_read(2, 0, 1000), {}, {}}};
  items.push_back(text_item(Event::guest_exit(ordinal, status, 0), why));
  return items;
}

// A complete trace: header, the test kernel, `events` in one chunk, index,
// footer, trailer.
TraceBuilder complete(const std::vector<Item>& events, const FooterInfo& footer) {
  TraceBuilder t;
  t.header()
      .blob("kernel", std::vector<uint8_t>{1, 2, 3})
      .chunk(events)
      .index()
      .footer(footer)
      .trailer();
  return t;
}

std::vector<std::string> problems_of(const std::vector<uint8_t>& bytes) {
  TraceReader r(bytes);
  return verify(r).problems;
}

bool mentions(const std::vector<std::string>& problems, const std::string& what) {
  for (const auto& p : problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
}

std::string joined(const std::vector<std::string>& v) {
  std::string o;
  for (const auto& s : v) o += s + "\n";
  return o;
}

// Item 4: a consistent blob (right hash, parts adding up) that cannot fit in
// the machine is refused on open, before a part is decompressed.
TEST(TraceHostile, BlobLargerThanGuestRamIsRefusedOnOpen) {
  std::vector<uint8_t> zeros(2 << 20, 0);
  TraceBuilder t;
  t.header(header_with_ram(1 << 20)).blob("kernel", zeros, 256 << 10);
  std::string err = error_of(t.bytes());
  EXPECT_NE(err.find("declares 2097152 bytes: more than the 1048576 bytes of guest RAM"),
            std::string::npos)
      << err;
}

TEST(TraceHostile, ImagesTogetherLargerThanGuestRamAreRefused) {
  std::vector<uint8_t> a(600 << 10, 1), b(600 << 10, 2);
  TraceBuilder t;
  t.header(header_with_ram(1 << 20)).blob("kernel", a).blob("initrd", b);
  EXPECT_NE(error_of(t.bytes()).find("the images together more"), std::string::npos);
}

// Parts that add up to more or less than the declared size are damage, and
// the check happens part by part (never more than declared is held).
TEST(TraceHostile, BlobPartsMustAddUpToTheDeclaredSize) {
  std::vector<uint8_t> part(1000, 7), whole(3000, 7);
  std::string hash = content_hash(whole);
  TraceBuilder more, less;
  more.header()
      .blob_part(hash, "kernel", 0, 2, 1500, part)
      .blob_part(hash, "kernel", 1, 2, 1500, part);
  less.header()
      .blob_part(hash, "kernel", 0, 2, 3000, part)
      .blob_part(hash, "kernel", 1, 2, 3000, part);
  TraceReader rm(more.bytes()), rl(less.bytes());
  EXPECT_THROW(
      {
        try {
          rm.read_blob(hash, [](std::span<const uint8_t>) {});
        } catch (const TraceError& e) {
          EXPECT_NE(std::string(e.what()).find("longer than its size"), std::string::npos);
          throw;
        }
      },
      TraceError);
  try {
    rl.blob(hash);
    ADD_FAILURE() << "a blob short of its size was accepted";
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find("holds 2000 bytes, its records declare 3000"),
              std::string::npos)
        << e.what();
  }
}

TEST(TraceHostile, RepeatedOrDisagreeingBlobRecordsAreDamage) {
  std::vector<uint8_t> data(100, 1);
  std::string hash = content_hash(data);
  TraceBuilder twice, disagree;
  twice.header()
      .blob_part(hash, "kernel", 0, 1, 100, data)
      .blob_part(hash, "kernel", 0, 1, 100, data);
  disagree.header()
      .blob_part(hash, "kernel", 0, 2, 100, data)
      .blob_part(hash, "kernel", 1, 3, 100, data);
  EXPECT_NE(error_of(twice.bytes()).find("has part 0 twice"), std::string::npos);
  EXPECT_NE(error_of(disagree.bytes()).find("disagrees with its other records"), std::string::npos);
}

// Item 5: a scan (no index) only peeks at blob frames: damage beyond the
// first 64 KiB of a blob's record is found when the blob is read, not by
// decompressing every frame on open.
TEST(TraceHostile, ScanReadsOnlyTheStartOfBlobFrames) {
  std::vector<uint8_t> data(1 << 20);
  std::mt19937 rng(1);
  for (auto& b : data) b = uint8_t(rng());  // incompressible: raw zstd blocks
  TraceBuilder t;
  t.header().blob("kernel", data);
  std::vector<uint8_t> bytes = t.bytes();
  TraceReader clean(bytes);
  ASSERT_EQ(clean.blobs().size(), 1u);
  bytes[bytes.size() - 1000] ^= 0xff;  // inside the last raw block: only the checksum notices
  TraceReader r(bytes);                // opens: the scan did not decompress the blob
  EXPECT_FALSE(r.complete());
  EXPECT_THROW(r.blob(r.blobs().front().hash), TraceError);
}

// Item 6: a chunk declaring more events than the writer ever puts in one
// is refused before its events are decoded.
TEST(TraceHostile, ChunkDeclaringMillionsOfEventsIsRefused) {
  constexpr uint32_t kEvents = 1'000'000;
  std::vector<uint8_t> kinds(kEvents, uint8_t(EventKind::kNote)), zeros(kEvents, 0);
  TraceBuilder t;
  t.header().record([&](schema::TraceRecord::Builder r) {
    auto c = r.initChunk();
    c.setFirstOrdinal(1);
    c.setCount(kEvents);
    c.setKinds(kj::arrayPtr(kinds.data(), kinds.size()));
    c.setOrdinals(kj::arrayPtr(zeros.data(), zeros.size()));
    c.setArgs(kj::arrayPtr(zeros.data(), zeros.size()));
  });
  std::vector<uint8_t> bytes = t.bytes();
  EXPECT_LT(bytes.size(), 8000u);  // a few KiB on disk
  TraceReader r(bytes);
  ReadEvent e;
  try {
    r.next(e);
    ADD_FAILURE() << "a chunk of a million events was decoded";
  } catch (const TraceError& err) {
    EXPECT_NE(std::string(err.what()).find("declares 1000000 events, more than 65536"),
              std::string::npos)
        << err.what();
  }
}

// Ordinals are deltas; a delta of 2^64 - 5 wraps around, and a chunk may
// claim to start before the one before it: either way, going backwards is
// damage, not a stream replay would follow.
TEST(TraceHostile, OrdinalsGoingBackwardsAreDamage) {
  std::vector<Item> wrapped = {{Event::port_read(10, 0x40, 1, 1), {}, {}},
                               {Event::port_read(5, 0x40, 1, 2), {}, {}}};
  std::vector<Item> later = {{Event::port_read(20, 0x40, 1, 1), {}, {}}};
  std::vector<Item> earlier = {{Event::port_read(3, 0x40, 1, 1), {}, {}}};
  TraceBuilder a, b;
  a.header().chunk(wrapped);
  b.header().chunk(later).chunk(earlier);
  for (const auto& bytes : {a.bytes(), b.bytes()}) {
    TraceReader r(bytes);
    try {
      read_items(r);
      ADD_FAILURE() << "ordinals going backwards were accepted";
    } catch (const TraceError& e) {
      EXPECT_NE(std::string(e.what()).find("event ordinals go backwards"), std::string::npos)
          << e.what();
    }
  }
}

TEST(TraceHostile, TheWriterNeverWritesAChunkTheReaderRefuses) {
  WriterOptions o;
  o.chunk_events = size_t{1} << 20;
  o.ring_events = size_t{1} << 21;
  std::vector<Item> items;
  for (uint64_t i = 0; i < kMaxChunkEvents + 100; ++i)
    items.push_back({Event::port_read(i, 0x40, 1, i & 0xff), {}, {}});
  std::vector<uint8_t> bytes = trace_bytes(items, o);
  TraceReader r(bytes);
  EXPECT_EQ(r.chunk_count(), 2u);
  EXPECT_EQ(read_items(r).size(), items.size());
}

// Item 8: every blob is checked against its hash, whatever its shape; a
// hash that is neither 32 nor 16 lower-case hex digits is damage.
TEST(TraceHostile, ShortHashesAreCheckedAndMalformedOnesRefused) {
  std::vector<uint8_t> data = {1, 2, 3};
  TraceBuilder short_hash;
  short_hash.header().blob_part("0123456789abcdef", "kernel", 0, 1, 3, data);
  TraceReader r(short_hash.bytes());
  EXPECT_THROW(r.blob("0123456789abcdef"), TraceError);
  EXPECT_TRUE(mentions(verify(r).problems, "does not match its hash"));

  for (std::string bad : {"x\", \"pwn\": \"1", "", "0123456789ABCDEF0123456789ABCDEF", "abc"}) {
    TraceBuilder t;
    t.header().blob_part(bad, "kernel", 0, 1, 3, data);
    EXPECT_NE(error_of(t.bytes()).find("is not 32 or 16 lower-case hex digits"), std::string::npos)
        << bad;
  }
  HeaderInfo h = test_header();
  h.images[0].hash = "not-a-hash";
  TraceBuilder header_only;
  header_only.header(h);
  EXPECT_NE(error_of(header_only.bytes()).find("image kernel has hash 'not-a-hash'"),
            std::string::npos);
}

// Item 9: a footer ends a trace; records after it are damage, not a
// "complete" trace.
TEST(TraceHostile, FooterBeforeTheChunksIsDamage) {
  std::vector<Item> events = run_ending(3, 1, "guest exit");
  TraceBuilder t;
  t.header().footer(footer_for(events)).chunk(events);
  EXPECT_NE(error_of(t.bytes()).find("a chunk record after the footer"), std::string::npos);
}

TEST(TraceHostile, FooterInTheMiddleOfAnIndexedTraceIsReported) {
  std::vector<Item> first = run_ending(3, 1, "guest exit"), second = first;
  first.pop_back();
  for (Item& it : second) it.event.ordinal += 10;
  FooterInfo f = footer_for(second);
  TraceBuilder t;
  t.header().blob("kernel", std::vector<uint8_t>{1, 2, 3}).chunk(first).footer(f).chunk(second);
  t.index().footer(f).trailer();
  TraceReader r(t.bytes());
  ASSERT_TRUE(r.has_index());
  TraceSummary s = summarize(r);
  ASSERT_EQ(s.damage.size(), 1u);
  EXPECT_NE(std::string(s.damage[0].what()).find("a footer record the index does not list"),
            std::string::npos);
  EXPECT_NE(info_text("t.rrt", r, s).find("status: damaged: a footer record"), std::string::npos);
}

// Item 9: info reads every blob, so a kernel whose frame fails its checksum
// makes the status "damaged", not "complete".
TEST(TraceHostile, InfoReportsABlobThatFailsItsChecksum) {
  std::vector<Item> events = run_ending(3, 1, "guest exit");
  std::vector<uint8_t> bytes = complete(events, footer_for(events)).bytes();
  TraceReader clean(bytes);
  TraceSummary ok = summarize(clean);
  EXPECT_FALSE(ok.damaged());
  EXPECT_NE(info_text("t.rrt", clean, ok).find("status: complete\n"), std::string::npos);
  // The same builder steps give the same bytes: header and blob are a
  // prefix, and the blob frame's last 4 bytes are its checksum.
  TraceBuilder prefix;
  prefix.header().blob("kernel", std::vector<uint8_t>{1, 2, 3});
  size_t blob_end = prefix.bytes().size();
  ASSERT_TRUE(std::equal(bytes.begin(), bytes.begin() + long(blob_end), prefix.bytes().begin()));
  bytes[blob_end - 1] ^= 0x01;
  TraceReader r(bytes);
  TraceSummary s = summarize(r);
  ASSERT_TRUE(s.damaged());
  EXPECT_FALSE(s.error);  // the events are fine
  EXPECT_NE(info_text("t.rrt", r, s).find("status: damaged: "), std::string::npos);
}

// Item 7: verify compares the footer's end state with the events.
TEST(TraceHostile, VerifyComparesTheFootersEndStateWithTheEvents) {
  std::vector<Item> events = run_ending(3, 1, "guest exit");
  FooterInfo f = footer_for(events);
  EXPECT_TRUE(problems_of(complete(events, f).bytes()).empty())
      << joined(problems_of(complete(events, f).bytes()));

  std::vector<Item> changed = events;
  changed.back().event.a = 5;  // status 1 -> 5, footer and index untouched
  auto p = problems_of(complete(changed, f).bytes());
  EXPECT_TRUE(mentions(p,
                       "the footer says the run ended by 'guest exit' with status 1; the last "
                       "guest-exit event (exit 3) says 'guest exit' with status 5"))
      << joined(p);

  FooterInfo far = f;
  far.exits = 1'000'000'000'000;
  p = problems_of(complete(events, far).bytes());
  EXPECT_TRUE(
      mentions(p, "the footer says the run made 1000000000000 exits; the events go to exit 3"))
      << joined(p);

  std::vector<Item> no_exit(events.begin(), events.end() - 1);
  FooterInfo claims = footer_for(no_exit);
  claims.end_reason = "guest exit";
  p = problems_of(complete(no_exit, claims).bytes());
  EXPECT_TRUE(mentions(p, "but no guest-exit event records the end")) << joined(p);
}

TEST(TraceHostile, ImageSizeInTheHeaderMustMatchItsBlob) {
  HeaderInfo h = test_header();
  h.images[0].size = 4;
  std::vector<Item> events = run_ending(3, 1, "guest exit");
  TraceBuilder t;
  t.header(h).blob("kernel", std::vector<uint8_t>{1, 2, 3}).chunk(events).index();
  t.footer(footer_for(events)).trailer();
  EXPECT_TRUE(mentions(problems_of(t.bytes()), "has 4 bytes in the header, 3 in its blob"));
}

// Item 14: messages that say what is wrong.
TEST(TraceHostile, ASkippableFirstFrameIsNamed) {
  TraceBuilder t;
  t.raw(make_trailer(0)).header();
  EXPECT_EQ(error_of(t.bytes()),
            "not an rrvm trace: it starts with a skippable frame, not a header record at byte 0");
}

TEST(TraceHostile, ErrorsFromAFileNameIt) {
  std::string path = temp_path("named.rrt");
  std::vector<Item> events = run_ending(3, 1, "guest exit");
  TraceBuilder t;
  t.header().chunk(events);
  std::vector<uint8_t> bytes = t.bytes();
  bytes.back() ^= 1;  // the chunk's checksum
  spit(path, bytes);
  try {
    TraceReader r(path);
    ReadEvent e;
    while (r.next(e)) {
    }
    ADD_FAILURE() << "damage not found";
  } catch (const TraceError& err) {
    EXPECT_EQ(err.file(), path);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace rrvm::trace
