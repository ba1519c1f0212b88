// Streams of Events, the one event model of recording and replay. The
// recorder writes to an EventSink (a TraceWriter, or VectorEvents in tests);
// the replayer reads from an EventSource (ReaderSource over a TraceReader, or
// VectorEvents).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string_view>
#include <vector>

#include "trace/event.h"

namespace rrvm::trace {

class TraceReader;

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Kinds without side data; the others get empty side data here.
  virtual void append(const Event& e) = 0;
  // dma-write, packet, console-input.
  virtual void append_bytes(const Event& e, std::span<const uint8_t> bytes) = 0;
  // guest-exit, note.
  virtual void append_text(const Event& e, std::string_view text) = 0;
  virtual void append_landmark(const Event& e, const LandmarkData& lm) = 0;
  // Push what is buffered towards the disk soon, without waiting (called
  // about once a second from the vCPU thread).
  virtual void request_flush() {}

  // Any event with its side data, through the call its kind takes.
  void put(const ReadEvent& r);
};

// Where a source stands, so a replay restored to a checkpoint can read on
// from the event it was at: past `skip` events of exit `ordinal` (the
// events come in ordinal order; notes count too).
struct SourceMark {
  uint64_t ordinal = 0;
  uint64_t skip = 0;
  friend bool operator==(const SourceMark&, const SourceMark&) = default;
};

class EventSource {
 public:
  virtual ~EventSource() = default;
  // The next event, or null at the end (of the file, or of a truncated one).
  // It and its side data stay valid until the next peek().
  virtual const ReadEvent* peek() = 0;
  virtual void pop() = 0;
  // The position after the events popped so far, and back to one.
  virtual SourceMark mark() const = 0;
  virtual void rewind(const SourceMark& m) = 0;
};

// A trace file's events, in order.
class ReaderSource final : public EventSource {
 public:
  explicit ReaderSource(TraceReader& reader) : reader_(reader) {}
  // Throws TraceError at a damaged chunk.
  const ReadEvent* peek() override;
  void pop() override;
  SourceMark mark() const override { return mark_; }
  // Seeks the reader through its index; throws TraceError like peek().
  void rewind(const SourceMark& m) override;

 private:
  TraceReader& reader_;
  ReadEvent cur_;
  bool have_ = false;
  bool ended_ = false;
  SourceMark mark_;
};

// Another source's events, with a look past the next one: replay bounds
// how long it searches for a point by the recorded times just beyond it.
// Events looked at are copied (each once) and handed out from here, so
// every pointer stays valid until its own event is popped.
class LookaheadSource final : public EventSource {
 public:
  explicit LookaheadSource(EventSource& inner) : inner_(inner) {}
  const ReadEvent* peek() override { return ahead(0); }
  void pop() override;
  SourceMark mark() const override { return held_.empty() ? inner_.mark() : held_.front().mark; }
  void rewind(const SourceMark& m) override;
  // The event `n` places after the next one (0: the next), or null when
  // the stream ends before it.
  const ReadEvent* ahead(size_t n);

 private:
  struct Held {
    StoredEvent event;
    SourceMark mark;  // the inner source's, before this event
    ReadEvent view;   // into `event`
  };
  EventSource& inner_;
  std::deque<Held> held_;
};

// An in-memory stream for tests and small tools: append, then read back
// from `next` (set it to 0 to read again).
class VectorEvents final : public EventSink, public EventSource {
 public:
  void append(const Event& e) override { events.emplace_back(e); }
  void append_bytes(const Event& e, std::span<const uint8_t> bytes) override;
  void append_text(const Event& e, std::string_view text) override;
  void append_landmark(const Event& e, const LandmarkData& lm) override;

  const ReadEvent* peek() override;
  void pop() override { ++next; }
  SourceMark mark() const override { return {0, next}; }
  void rewind(const SourceMark& m) override { next = m.skip; }

  std::vector<StoredEvent> events;
  size_t next = 0;

 private:
  ReadEvent cur_;
};

}  // namespace rrvm::trace
