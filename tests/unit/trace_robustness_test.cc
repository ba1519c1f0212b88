// Damaged and hostile input: a trace cut at every byte, single bit flips,
// 10,000 deterministic mutations of the fuzzing seed corpus, frames whose
// sizes lie, and format versions this rrvm does not know. The reader must
// answer with events or a TraceError naming an offset, never crash, hang or
// allocate without bound (run under ASan with -DRRVM_SANITIZE=ON).
#include <gtest/gtest.h>

#include <capnp/message.h>

#include <cstdlib>

#include "tests/unit/trace_test_util.h"
#include "trace/frame_io.h"
#include "trace/records.h"
#include "trace/trace_inspect.h"

namespace rrvm::trace {
namespace {

using namespace testing;

const std::string kCorpus = std::string(RRVM_SOURCE_DIR) + "/tests/data/trace-corpus";

// Everything a tool would do with a trace; a TraceError is a fine answer.
void exercise(std::vector<uint8_t> bytes) {
  try {
    TraceReader r(std::move(bytes));
    verify(r);
    r.seek(5);
    ReadEvent e;
    while (r.next(e)) {
    }
  } catch (const TraceError& e) {
    EXPECT_NE(std::string(e.what()).find(" at byte "), std::string::npos);
  }
}

// Every prefix of a small trace: a prefix of its events (with a "truncated
// at byte N" status) or a TraceError when even the header is incomplete.
TEST(TraceRobustness, TruncationAtEveryByteYieldsAPrefixOfTheEvents) {
  std::vector<Item> items = random_items(3, 300);
  std::vector<uint8_t> whole = trace_bytes(items, small_chunks(40));
  std::vector<Item> want;
  for (const Item& it : items) want.push_back(expected(it));
  size_t header_only = 0, with_events = 0;
  for (size_t n = 0; n < whole.size(); ++n) {
    std::vector<uint8_t> cut(whole.begin(), whole.begin() + ptrdiff_t(n));
    try {
      TraceReader r(std::move(cut));
      std::vector<Item> got = read_items(r);
      ASSERT_LE(got.size(), want.size());
      EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin())) << "cut at " << n;
      (got.empty() ? header_only : with_events)++;
      if (n == whole.size() - kTrailerSize) {
        // Only the trailer (the index pointer) is missing: footer and events are all there.
        EXPECT_TRUE(r.complete());
        EXPECT_EQ(got.size(), want.size());
        continue;
      }
      EXPECT_FALSE(r.complete()) << n;
      EXPECT_NE(r.truncation().find("truncated at byte " + std::to_string(r.valid_bytes())),
                std::string::npos)
          << r.truncation();
      EXPECT_LE(r.valid_bytes(), n);
    } catch (const TraceError& e) {
      EXPECT_EQ(e.offset(), 0u) << "only a cut header is an error, cut at " << n;
    }
  }
  EXPECT_GT(with_events, whole.size() / 2);
  EXPECT_GT(header_only, 0u);
}

// A flipped bit is reported (a TraceError with its offset, or verify()
// listing a problem), or it changes nothing a reader returns.
TEST(TraceRobustness, BitFlipsAreDetectedOrHarmless) {
  std::vector<Item> items = random_items(5, 400);
  std::vector<uint8_t> whole = trace_bytes(items, small_chunks(50));
  TraceReader clean(whole);
  std::vector<Item> want = read_items(clean);
  std::mt19937 rng(42);
  size_t detected = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> bad = whole;
    size_t at = rng() % bad.size();
    bad[at] ^= uint8_t(1u << (rng() % 8));
    try {
      TraceReader r(bad);
      VerifyResult v = verify(r);
      if (!v.problems.empty()) {
        ++detected;
        continue;
      }
      r.seek(0);
      EXPECT_EQ(read_items(r), want) << "flip at byte " << at << " changed events unnoticed";
      EXPECT_EQ(r.header().config, clean.header().config) << "flip at byte " << at;
      EXPECT_EQ(r.footer()->end_reason, clean.footer()->end_reason) << "flip at byte " << at;
    } catch (const TraceError& e) {
      ++detected;
      EXPECT_LE(e.offset(), whole.size());
    }
  }
  EXPECT_GT(detected, 1900u);  // only a few header bits are redundant
}

std::vector<std::vector<uint8_t>> seed_corpus() {
  std::vector<std::vector<uint8_t>> out;
  if (std::filesystem::is_directory(kCorpus)) {
    for (const auto& f : std::filesystem::directory_iterator(kCorpus))
      out.push_back(slurp(f.path()));
  }
  return out;
}

// tests/data/trace-corpus is the libFuzzer seed corpus (tests/fuzz). Written
// by this generator; rewrite with RRVM_REGEN_CORPUS=1 after a format change.
// (No .rrt suffix: .gitignore keeps *.rrt out of the repository.)
TEST(TraceRobustness, SeedCorpusIsReadable) {
  if (std::getenv("RRVM_REGEN_CORPUS")) {
    std::filesystem::create_directories(kCorpus);
    std::vector<uint8_t> full = trace_bytes(random_items(21, 120), small_chunks(30));
    spit(kCorpus + "/complete", full);
    spit(kCorpus + "/cut", std::vector<uint8_t>(full.begin(), full.end() - 100));
    spit(kCorpus + "/single-chunk", trace_bytes(random_items(22, 60)));
    spit(kCorpus + "/empty", trace_bytes({}));
  }
  std::vector<std::vector<uint8_t>> corpus = seed_corpus();
  ASSERT_GE(corpus.size(), 4u) << "missing seed corpus in " << kCorpus;
  for (const auto& c : corpus) EXPECT_NO_THROW(TraceReader{c});
}

// The fuzz target's inputs, replayed deterministically so every build runs
// them: byte edits, insertions, deletions, cuts and splices.
TEST(TraceRobustness, TenThousandMutationsNeverCrashTheReader) {
  std::vector<std::vector<uint8_t>> corpus = seed_corpus();
  ASSERT_FALSE(corpus.empty());
  std::mt19937 rng(1234);
  for (int i = 0; i < 10000; ++i) {
    std::vector<uint8_t> m = corpus[size_t(i) % corpus.size()];
    for (int k = 1 + int(rng() % 4); k > 0 && !m.empty(); --k) {
      size_t at = rng() % m.size();
      switch (rng() % 5) {
        case 0:
          m[at] = uint8_t(rng());
          break;
        case 1:
          m.insert(m.begin() + ptrdiff_t(at), uint8_t(rng()));
          break;
        case 2:
          m.erase(m.begin() + ptrdiff_t(at));
          break;
        case 3:
          m.resize(at);
          break;
        default: {
          const auto& other = corpus[rng() % corpus.size()];
          size_t from = rng() % other.size();
          m.insert(m.begin() + ptrdiff_t(at), other.begin() + ptrdiff_t(from), other.end());
        }
      }
    }
    exercise(std::move(m));
  }
}

// A record frame around `message` without the writer's help.
std::vector<uint8_t> frame_of(capnp::MessageBuilder& message) {
  CCtx cctx(ZSTD_createCCtx());
  return record_frame(message, cctx.get(), 3);
}

std::vector<uint8_t> header_frame(uint16_t major, uint16_t minor, uint16_t needs) {
  capnp::MallocMessageBuilder msg;
  auto h = msg.initRoot<schema::TraceRecord>().initHeader();
  build_header(test_header(), h);
  h.setFormatMajor(major);
  h.setFormatMinor(minor);
  h.setRequiredForwardCompat(needs);
  return frame_of(msg);
}

std::string error_of(std::vector<uint8_t> bytes) {
  try {
    TraceReader r(std::move(bytes));
  } catch (const TraceError& e) {
    return e.what();
  }
  return "";
}

TEST(TraceRobustness, UnknownMajorOrRequiredLevelIsRefusedClearly) {
  EXPECT_NE(error_of(header_frame(2, 0, 1)).find("trace format 2.0 is not readable"),
            std::string::npos);
  EXPECT_NE(error_of(header_frame(1, 7, 3)).find("needs reader level 3"), std::string::npos);
  // A newer minor with a requirement this reader meets is read: level 1
  // (every value stored, as 1.0) and level 2 (reads left to the models, 1.1).
  TraceReader r(header_frame(1, 9, 1));
  EXPECT_EQ(r.header().format_minor, 9);
  TraceReader modelled(header_frame(1, 9, 2));
  EXPECT_EQ(modelled.header().required_forward_compat, 2);
}

TEST(TraceRobustness, FramesWithoutSizeOrChecksumOrAboveTheCapAreRejected) {
  std::vector<uint8_t> good = header_frame(1, 0, 1);
  // Streaming compression without a pledged size leaves the size out.
  capnp::MallocMessageBuilder msg;
  build_header(test_header(), msg.initRoot<schema::TraceRecord>().initHeader());
  auto words = message_bytes(msg);
  CCtx cctx(ZSTD_createCCtx());
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  std::vector<uint8_t> unsized(ZSTD_compressBound(words.asBytes().size()) + 64);
  ZSTD_outBuffer out{unsized.data(), unsized.size(), 0};
  ZSTD_inBuffer in{words.asBytes().begin(), words.asBytes().size(), 0};
  ZSTD_compressStream2(cctx.get(), &out, &in, ZSTD_e_continue);
  ASSERT_EQ(ZSTD_compressStream2(cctx.get(), &out, &in, ZSTD_e_end), 0u);
  unsized.resize(out.pos);
  EXPECT_NE(error_of(unsized).find("content size missing"), std::string::npos);
  // Without a checksum.
  std::vector<uint8_t> unchecked = good;
  unchecked[4] &= ~0x04;
  EXPECT_NE(error_of(unchecked).find("without a checksum"), std::string::npos);
  // A header claiming 2^40 bytes of content (8-byte size field).
  std::vector<uint8_t> huge = {0x28, 0xb5, 0x2f, 0xfd, 0xc4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  EXPECT_NE(error_of(huge).find("above 64 MiB"), std::string::npos);
  EXPECT_NE(error_of({}).find("empty file"), std::string::npos);
  EXPECT_NE(error_of({'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'}).find("bad magic"),
            std::string::npos);
}

// A damaged trailer or index is an error, not a silent fallback.
TEST(TraceRobustness, DamagedTrailerIsAnError) {
  std::vector<uint8_t> whole = trace_bytes(random_items(6, 100));
  std::vector<uint8_t> bad = whole;
  bad[bad.size() - 12] ^= 1;  // the index offset
  std::string err = error_of(bad);
  EXPECT_NE(err.find("damaged trailer"), std::string::npos) << err;
  EXPECT_NE(err.find("at byte " + std::to_string(whole.size() - kTrailerSize)), std::string::npos);
}

}  // namespace
}  // namespace rrvm::trace
