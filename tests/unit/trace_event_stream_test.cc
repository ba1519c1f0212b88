// The event model the recorder and replayer share (trace/event_stream.h):
// an in-memory stream and a trace file yield the same events with the same
// side data, every kind goes through EventSink::put, and the kind table
// agrees with the schema.
#include <gtest/gtest.h>

#include <capnp/schema.h>

#include <cctype>

#include "tests/unit/trace_test_util.h"
#include "trace/event_stream.h"
#include "trace/trace_inspect.h"

namespace rrvm::trace {
namespace {

using namespace testing;

std::vector<Item> drain(EventSource& src) {
  std::vector<Item> out;
  while (const ReadEvent* e = src.peek()) {
    out.push_back(item_of(*e));
    src.pop();
  }
  return out;
}

TEST(TraceEventStream, VectorEventsGiveBackWhatWasPut) {
  std::vector<Item> items = random_items(7, 3000);
  VectorEvents v;
  for (const Item& it : items) append_item(v, it);
  ASSERT_EQ(v.events.size(), items.size());
  EXPECT_EQ(drain(v), items);
  EXPECT_EQ(v.peek(), nullptr);
  v.next = 0;
  EXPECT_EQ(drain(v).size(), items.size()) << "rewinding reads it again";
}

TEST(TraceEventStream, ReaderSourceYieldsTheSameEventsAsMemory) {
  std::vector<Item> items = random_items(11, 5000);
  std::string path = temp_path("stream.rrt");
  write_trace(path, items, WriterOptions{.chunk_events = 700});
  TraceReader reader(path);
  ReaderSource src(reader);
  std::vector<Item> want;
  for (const Item& it : items) want.push_back(expected(it));
  EXPECT_EQ(drain(src), want);
  EXPECT_EQ(src.peek(), nullptr) << "the end stays the end";
  std::filesystem::remove(path);
}

// A replay checkpoint keeps the source's mark; restoring it rewinds the
// reader there (through its index) and the same events follow, across
// chunk boundaries and back to earlier marks.
TEST(TraceEventStream, ReaderSourceRewindsToAMark) {
  std::vector<Item> items = random_items(13, 3000);
  std::string path = temp_path("rewind.rrt");
  write_trace(path, items, WriterOptions{.chunk_events = 700});
  TraceReader reader(path);
  ReaderSource src(reader);
  std::vector<std::pair<SourceMark, std::vector<Item>>> marks;
  for (size_t taken = 0; src.peek(); ++taken) {
    if (taken % 333 == 0) {
      SourceMark m = src.mark();
      TraceReader again(path);
      ReaderSource rest(again);
      rest.rewind(m);
      marks.emplace_back(m, drain(rest));
    }
    src.pop();
  }
  ASSERT_GT(marks.size(), 5u);
  for (auto it = marks.rbegin(); it != marks.rend(); ++it) {  // newest first, then back
    src.rewind(it->first);
    std::vector<Item> got = drain(src);
    EXPECT_EQ(got, it->second) << "rewound to exit " << it->first.ordinal << " + "
                               << it->first.skip;
  }
  src.rewind(SourceMark{});
  EXPECT_EQ(drain(src).size(), items.size()) << "the empty mark is the start";
  std::filesystem::remove(path);
}

// Replay looks past the next event for the next recorded time: the events
// looked at come out the same, a pointer to one stays valid while more are
// looked at, and marks taken with events held rewind the underlying trace
// to the same place.
TEST(TraceEventStream, LookaheadSourceLooksAheadWithoutChangingTheStream) {
  std::vector<Item> items = random_items(17, 3000);
  std::string path = temp_path("ahead.rrt");
  write_trace(path, items, WriterOptions{.chunk_events = 700});
  std::vector<Item> want;
  for (const Item& it : items) want.push_back(expected(it));
  TraceReader reader(path);
  ReaderSource inner(reader);
  LookaheadSource src(inner);
  std::vector<Item> got;
  std::vector<std::pair<SourceMark, size_t>> marks;
  for (size_t taken = 0; const ReadEvent* e = src.peek(); ++taken) {
    if (taken % 250 == 0) marks.emplace_back(src.mark(), taken);
    size_t n = taken % 7 == 0 ? 40 : taken % 3;  // across chunk boundaries too
    const ReadEvent* later = src.ahead(n);
    if (taken + n < want.size()) {
      ASSERT_NE(later, nullptr);
      EXPECT_EQ(item_of(*later), want[taken + n]) << taken << " + " << n;
    } else {
      EXPECT_EQ(later, nullptr) << "past the end";
    }
    got.push_back(item_of(*e));  // still the event peeked before
    src.pop();
  }
  EXPECT_EQ(got, want);
  for (const auto& [mark, at] : marks) {
    src.rewind(mark);
    EXPECT_EQ(src.ahead(5) != nullptr, at + 5 < want.size()) << "mark at " << at;
    std::vector<Item> rest = drain(src);
    EXPECT_EQ(rest, std::vector<Item>(want.begin() + long(at), want.end())) << "mark at " << at;
  }
  std::filesystem::remove(path);
}

// A copy made with put() from a stream's events is the same stream: what a
// trace rewriter (bisect's tests) relies on.
TEST(TraceEventStream, PutCopiesEveryKindWithItsSideData) {
  std::vector<Item> items = random_items(3, 2000);
  VectorEvents a, b;
  for (const Item& it : items) append_item(a, it);
  while (const ReadEvent* e = a.peek()) {
    b.put(*e);
    a.pop();
  }
  EXPECT_EQ(b.events, a.events);
}

TEST(TraceEventStream, StoredEventViewShowsOnlyItsKindsSideData) {
  StoredEvent s(Event::port_read(5, 0x40, 1, 0x3c));
  s.text = "not a port read's";
  ReadEvent r = s.view();
  EXPECT_EQ(r.landmark, nullptr);
  EXPECT_EQ(r.payload, nullptr);
  EXPECT_EQ(r.text, nullptr);
  EXPECT_EQ(format_event(r), "#5 port-read port=0x40 size=1 value=0x3c");
  StoredEvent exit(Event::guest_exit(9, 3, 1));
  exit.text = "guest exit";
  EXPECT_EQ(format_event(exit.view()), "#9 guest-exit code=3 detail=1 reason=\"guest exit\"");
  EXPECT_EQ(StoredEvent(exit.view()), exit);
}

// The writer drops side data a kind does not have; so does VectorEvents.
TEST(TraceEventStream, SideDataFollowsTheKindAsInTheWriter) {
  VectorEvents v;
  std::vector<uint8_t> bytes = {'h', 'i'};
  v.append_bytes(Event::interrupt(1, 0x20, false), bytes);
  v.append_bytes(Event::note(1), bytes);
  v.append_text(Event::console_input(2), "ab");
  EXPECT_TRUE(v.events[0].bytes.empty());
  EXPECT_EQ(v.events[1].text, "hi");
  EXPECT_EQ(v.events[2].bytes, (std::vector<uint8_t>{'a', 'b'}));
}

std::string folded(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '-' && c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// A kind added to kKindLayouts without its entry in trace.capnp (or the
// other way round) fails here.
TEST(TraceEventStream, KindTableMatchesTheSchemaEnum) {
  auto enumerants = capnp::Schema::from<schema::EventKind>().getEnumerants();
  ASSERT_EQ(int(enumerants.size()), kEventKinds);
  for (auto e : enumerants) {
    auto k = static_cast<EventKind>(e.getOrdinal());
    EXPECT_EQ(folded(e.getProto().getName().cStr()), folded(kind_name(k)))
        << "EventKind " << e.getOrdinal();
  }
}

}  // namespace
}  // namespace rrvm::trace
