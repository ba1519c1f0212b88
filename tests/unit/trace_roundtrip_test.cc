// Writer -> file -> reader: random event sequences come back exactly (less
// the values of reads stored "as modelled"), with header, footer, index,
// seek and blobs.
#include <gtest/gtest.h>

#include "tests/unit/trace_test_util.h"

namespace rrvm::trace {
namespace {

using namespace testing;

std::vector<Item> expected_all(const std::vector<Item>& items) {
  std::vector<Item> out;
  for (const Item& it : items) out.push_back(expected(it));
  return out;
}

TEST(TraceRoundTrip, RandomSequencesComeBackEventForEvent) {
  for (uint64_t seed = 1; seed <= 25; ++seed) {
    std::vector<Item> items = random_items(seed, 100 + seed * 97);
    std::string path = temp_path("rt.rrt");
    write_trace(path, items, small_chunks(1 + seed * 13));
    TraceReader r(path);
    EXPECT_TRUE(r.complete()) << r.truncation();
    EXPECT_TRUE(r.has_index());
    EXPECT_EQ(read_items(r), expected_all(items)) << "seed " << seed;
    std::filesystem::remove(path);
  }
}

TEST(TraceRoundTrip, ExtremeValuesSurvive) {
  std::vector<Item> items;
  auto add = [&](Event e) { items.push_back({e, {}, {}}); };
  uint64_t max = ~uint64_t{0};
  add(Event::port_read(0, 0xffff, 4, 0xffffffff));
  add(Event::port_read(0, 0xffff, 4, 0));  // a value going down
  add(Event::mmio_read(1, max, 8, max));
  add(Event::msr_read(max / 2, 0xffffffff, max));
  add(Event::clock_read(max / 2, 0xffffffff, max));
  add(Event::clock_read(max / 2, 0xffffffff, 0));
  add(Event::reg_digest(max, max));
  add(Event::guest_exit(max, INT64_MIN, max));
  std::string path = temp_path("extreme.rrt");
  write_trace(path, items);
  TraceReader r(path);
  EXPECT_EQ(read_items(r), items);
  std::filesystem::remove(path);
}

TEST(TraceRoundTrip, HeaderAndFooterRoundTrip) {
  std::string path = temp_path("hdr.rrt");
  std::vector<Item> items = random_items(3, 500);
  write_trace(path, items);
  TraceReader r(path);
  HeaderInfo want = test_header();
  const HeaderInfo& h = r.header();
  EXPECT_EQ(h.format_major, kFormatMajor);
  EXPECT_EQ(h.format_minor, kFormatMinor);
  EXPECT_EQ(h.rrvm_version, want.rrvm_version);
  EXPECT_EQ(h.created_unix_seconds, want.created_unix_seconds);
  EXPECT_EQ(h.host_kernel, want.host_kernel);
  EXPECT_EQ(h.host_cpu, want.host_cpu);
  EXPECT_EQ(h.kvm_capabilities, want.kvm_capabilities);
  EXPECT_EQ(h.config, want.config);  // order kept
  EXPECT_EQ(h.cpuid, want.cpuid);
  EXPECT_EQ(h.images, want.images);
  EXPECT_EQ(h.clock_mode, "virtual");
  EXPECT_EQ(h.host_probe, want.host_probe);
  EXPECT_EQ(h.host_forced_cpuid, want.host_forced_cpuid);
  ASSERT_TRUE(r.footer());
  const FooterInfo& f = *r.footer();
  EXPECT_EQ(f.total_events, items.size());
  EXPECT_EQ(f.end_reason, "guest exit -3");
  EXPECT_EQ(f.guest_status, -3);
  EXPECT_EQ(f.final_reg_digest, 0x1234u);
  EXPECT_EQ(f.final_mem_digest, 0x5678u);
  EXPECT_EQ(f.exits, items.back().event.ordinal + 1);  // defaulted by the writer
  std::vector<uint64_t> counts(kEventKinds, 0);
  for (const Item& it : items) ++counts[size_t(it.event.kind)];
  EXPECT_EQ(f.counts_by_kind, counts);
  EXPECT_EQ(r.index_counts(), counts);
  std::filesystem::remove(path);
}

// Format 1.1: whether reads are left to the device models, and whose. A
// trace that leaves them requires reader level 2 (a 1.0 reader would replay
// it into a divergence); one with every value stored stays readable at 1.
TEST(TraceRoundTrip, HeaderSaysWhatTheEventsLeaveToTheModels) {
  for (bool modelled : {false, true}) {
    HeaderInfo h = test_header();
    h.reads_modelled = modelled;
    h.device_models = modelled ? "0123456789abcdef" : "";
    std::string path = temp_path("models.rrt");
    {
      TraceWriter w(path, h);
      w.close({});
    }
    TraceReader r(path);
    EXPECT_EQ(r.header().reads_modelled, modelled);
    EXPECT_EQ(r.header().device_models, h.device_models);
    EXPECT_EQ(r.header().required_forward_compat, modelled ? 2 : 1);
    std::filesystem::remove(path);
  }
}

// The first event at or after the ordinal, with and without an index (a cut
// trace is scanned instead), including ordinals shared across chunks.
TEST(TraceRoundTrip, SeekFindsTheFirstEventAtOrAfterAnOrdinal) {
  std::vector<Item> items = random_items(7, 3000);
  std::vector<uint8_t> bytes = trace_bytes(items, small_chunks(16));
  std::vector<uint8_t> cut(bytes.begin(), bytes.end() - 40);  // loses trailer and footer
  for (bool indexed : {true, false}) {
    TraceReader r(indexed ? bytes : cut);
    ASSERT_EQ(r.has_index(), indexed);
    std::vector<Item> all = read_items(r);
    ASSERT_GT(all.size(), 2000u);
    for (size_t pick : {size_t{0}, size_t{1}, size_t{777}, size_t{1500}, all.size() - 1}) {
      uint64_t target = all[pick].event.ordinal;
      size_t first = 0;
      while (all[first].event.ordinal < target) ++first;
      r.seek(target);
      ReadEvent e;
      ASSERT_TRUE(r.next(e));
      EXPECT_EQ(item_of(e), all[first]) << "ordinal " << target << " indexed " << indexed;
    }
    r.seek(all.back().event.ordinal + 1);
    ReadEvent e;
    EXPECT_FALSE(r.next(e));
  }
}

TEST(TraceRoundTrip, LargeBlobsAreSplitAndFoundByHashPrefix) {
  std::vector<uint8_t> big((9u << 20) + 123);
  std::mt19937 rng(5);
  for (auto& b : big) b = uint8_t(rng() >> 24);
  std::vector<uint8_t> small = {9, 8, 7};
  std::string path = temp_path("blob.rrt");
  std::string hash;
  {
    TraceWriter w(path, test_header());
    hash = w.add_blob("initrd", big);
    EXPECT_EQ(w.add_blob("initrd", big), hash);  // embedded once
    w.add_blob("kernel", small);
    w.append(Event::port_read(1, 0x40, 1, 2));
    w.close({});
  }
  for (bool indexed : {true, false}) {
    std::vector<uint8_t> file = slurp(path);
    if (!indexed) file.resize(file.size() - 1);
    TraceReader r(std::move(file));
    auto blobs = r.blobs();
    ASSERT_EQ(blobs.size(), 2u);
    for (const BlobInfo& b : blobs) {
      if (b.hash == hash) {
        EXPECT_EQ(b.parts, 3u);
      }
    }
    EXPECT_EQ(r.blob(hash.substr(0, 6)), big);
    EXPECT_EQ(r.blob(content_hash(small)), small);
    EXPECT_THROW(r.blob("zz"), TraceError);
    EXPECT_THROW(r.blob(""), TraceError);  // ambiguous
  }
  std::filesystem::remove(path);
}

// A Multiboot image that is mostly zero page tables (here 4 MiB: 4 KiB of
// code, then zeros) costs a few hundred bytes, not its size, and comes back
// byte for byte.
TEST(TraceRoundTrip, MostlyZeroImageCostsAFewHundredBytes) {
  std::vector<uint8_t> image(4u << 20, 0);
  std::mt19937 rng(11);
  for (size_t i = 0; i < 4096; ++i) image[i] = uint8_t(rng() % 7);  // code-like, compressible
  image[0x100000] = 0x83;                                           // a page-table entry
  std::string with = temp_path("img.rrt"), without = temp_path("noimg.rrt");
  std::string hash;
  for (const std::string& path : {with, without}) {
    TraceWriter w(path, test_header());
    if (path == with) hash = w.add_blob("kernel", image);
    w.close({});
  }
  uint64_t cost = std::filesystem::file_size(with) - std::filesystem::file_size(without);
  EXPECT_LT(cost, 4096u + 512u) << "the 4 KiB of code and a few hundred bytes";
  TraceReader r(with);
  ASSERT_EQ(r.blobs().size(), 1u);
  EXPECT_LE(r.blobs()[0].stored_bytes, cost);  // the blob's frame, plus its index entry
  EXPECT_EQ(r.blob(hash), image);
  // The same without the code: only the zeros and one entry.
  std::vector<uint8_t> tables(4u << 20, 0);
  tables[0x1000] = 0x83;
  {
    TraceWriter w(with, test_header());
    w.add_blob("kernel", tables);
    w.close({});
  }
  EXPECT_LT(std::filesystem::file_size(with) - std::filesystem::file_size(without), 400u);
  std::filesystem::remove(with);
  std::filesystem::remove(without);
}

TEST(TraceRoundTrip, EmptyTraceIsCompleteWithNoEvents) {
  std::string path = temp_path("empty.rrt");
  { TraceWriter(path, test_header()).close({}); }
  TraceReader r(path);
  EXPECT_TRUE(r.complete());
  ReadEvent e;
  EXPECT_FALSE(r.next(e));
  EXPECT_EQ(r.footer()->total_events, 0u);
  std::filesystem::remove(path);
}

TEST(TraceRoundTrip, MissingFileIsTraceMissing) {
  EXPECT_THROW(TraceReader("/nonexistent/trace.rrt"), TraceMissing);
  EXPECT_THROW(TraceReader(std::filesystem::temp_directory_path().string()), TraceMissing);
}

}  // namespace
}  // namespace rrvm::trace
