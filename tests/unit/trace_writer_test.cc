// TraceWriter behaviour beyond the format: periodic flushing (crash safety),
// write errors reaching the caller, misuse errors, and a trace left by a
// writer that never closed.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "tests/unit/trace_test_util.h"

namespace rrvm::trace {
namespace {

using namespace testing;
using namespace std::chrono_literals;

TEST(TraceWriter, DefaultFlushIntervalIsAtMostOneSecond) {
  EXPECT_LE(WriterOptions{}.flush_interval, 1000ms);
}

// While the writer is open and idle, what was appended reaches the file
// within the flush interval, readable as a cut-off trace.
TEST(TraceWriter, IdleWriterFlushesWithinTheInterval) {
  std::string path = temp_path("periodic.rrt");
  WriterOptions o;
  o.flush_interval = 100ms;
  TraceWriter w(path, test_header(), o);
  std::vector<Item> items = random_items(1, 50);
  for (const Item& it : items) append_item(w, it);
  size_t seen = 0;
  for (int i = 0; i < 100 && seen < items.size(); ++i) {
    std::this_thread::sleep_for(20ms);
    TraceReader r(path);
    EXPECT_FALSE(r.complete());
    seen = read_items(r).size();
  }
  EXPECT_EQ(seen, items.size());
  w.close({});
  std::filesystem::remove(path);
}

TEST(TraceWriter, FlushWritesEverythingAppended) {
  std::string path = temp_path("flush.rrt");
  WriterOptions o;
  o.flush_interval = 3600s;
  TraceWriter w(path, test_header(), o);
  std::vector<Item> items = random_items(2, 1000);
  for (const Item& it : items) append_item(w, it);
  w.flush();
  TraceReader r(path);
  EXPECT_EQ(read_items(r).size(), items.size());
  EXPECT_NE(r.truncation().find("without a footer"), std::string::npos);
  w.close({});
  std::filesystem::remove(path);
}

// A writer destroyed without close() (the process stopping early) leaves
// every event appended, without a footer.
TEST(TraceWriter, UnclosedWriterLeavesAReadableCutOffTrace) {
  std::string path = temp_path("unclosed.rrt");
  std::vector<Item> items = random_items(3, 5000);
  {
    TraceWriter w(path, test_header(), small_chunks(100));
    for (const Item& it : items) append_item(w, it);
  }
  TraceReader r(path);
  EXPECT_FALSE(r.complete());
  EXPECT_FALSE(r.footer());
  EXPECT_EQ(r.valid_bytes(), r.file_size());
  EXPECT_EQ(read_items(r).size(), items.size());
  std::filesystem::remove(path);
}

// The producer fills the ring much faster than the worker drains it, so it
// waits for room many times; nothing is lost or reordered.
TEST(TraceWriter, FullRingMakesTheProducerWaitNotDrop) {
  std::string path = temp_path("full.rrt");
  WriterOptions o = small_chunks(32);
  o.ring_events = 64;
  o.arena_bytes = 4096;
  o.level = 19;  // slow worker
  std::vector<Item> items = random_items(4, 4000);
  for (Item& it : items) {
    if (it.bytes.size() > 2048) it.bytes.resize(2048);  // at most half the arena
  }
  write_trace(path, items, o);
  TraceReader r(path);
  std::vector<Item> got = read_items(r);
  ASSERT_EQ(got.size(), items.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected(items[i])) << i;
  std::filesystem::remove(path);
}

class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG
    getrlimit(RLIMIT_FSIZE, &old_);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  void (*old_handler_)(int);
};

// "Disk full": the failure reaches the appending thread as an exception,
// and the file keeps every frame written before it.
TEST(TraceWriter, WriteErrorReachesTheCaller) {
  std::string path = temp_path("full-disk.rrt");
  bool threw = false;
  std::string what;
  {
    FileSizeLimit limit(64 * 1024);
    TraceWriter w(path, test_header(), small_chunks(256));
    std::vector<Item> items = random_items(5, 20000);
    try {
      for (int round = 0; round < 20; ++round) {
        for (const Item& it : items) append_item(w, it);
        w.flush();
      }
      w.close({});
    } catch (const TraceWriteError& e) {
      threw = true;
      what = e.what();
      EXPECT_TRUE(w.failed());
      EXPECT_THROW(w.flush(), TraceWriteError);
      EXPECT_THROW(w.close({}), TraceWriteError);
    }
  }
  EXPECT_TRUE(threw);
  EXPECT_NE(what.find("too large"), std::string::npos) << what;  // EFBIG's text
  TraceReader r(path);
  EXPECT_FALSE(r.complete());
  EXPECT_GT(read_items(r).size(), 0u);
  std::filesystem::remove(path);
}

TEST(TraceWriter, UnwritablePathThrowsAtConstruction) {
  EXPECT_THROW(TraceWriter("/nonexistent/dir/t.rrt", test_header()), TraceWriteError);
  EXPECT_THROW(TraceWriter("/dev/full", test_header()), TraceWriteError);
}

TEST(TraceWriter, MisuseIsReported) {
  std::string path = temp_path("misuse.rrt");
  WriterOptions o;
  o.arena_bytes = 1 << 16;
  TraceWriter w(path, test_header(), o);
  Event bad = Event::port_read(0, 1, 1, 1);
  bad.kind = static_cast<EventKind>(99);
  EXPECT_THROW(w.append(bad), std::invalid_argument);
  std::vector<uint8_t> huge((1 << 15) + 1);
  EXPECT_THROW(w.append_bytes(Event::packet(0), huge), std::length_error);
  w.close({});
  EXPECT_THROW(w.close({}), std::logic_error);
  EXPECT_THROW(w.flush(), std::logic_error);
  std::filesystem::remove(path);
}

// Kinds with side data appended through plain append() get empty side data
// rather than someone else's bytes.
TEST(TraceWriter, PlainAppendOfASideKindHasEmptySideData) {
  std::string path = temp_path("plain.rrt");
  {
    TraceWriter w(path, test_header());
    w.append_bytes(Event::packet(1), std::vector<uint8_t>{1, 2, 3});
    w.append(Event::packet(2));
    w.append(Event::landmark(3));
    w.close({});
  }
  TraceReader r(path);
  std::vector<Item> got = read_items(r);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].bytes, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_TRUE(got[1].bytes.empty());
  EXPECT_EQ(got[2].landmark, LandmarkData{});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace rrvm::trace
