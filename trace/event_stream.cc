#include "trace/event_stream.h"

#include "trace/trace_reader.h"

namespace rrvm::trace {

void EventSink::put(const ReadEvent& r) {
  switch (kind_layout(r.event.kind).side) {
    case SideData::kBytes:
      append_bytes(r.event,
                   r.payload ? std::span<const uint8_t>(*r.payload) : std::span<const uint8_t>());
      return;
    case SideData::kText:
      append_text(r.event, r.text ? std::string_view(*r.text) : std::string_view());
      return;
    case SideData::kLandmark:
      append_landmark(r.event, r.landmark ? *r.landmark : LandmarkData{});
      return;
    case SideData::kNone:
      append(r.event);
      return;
  }
}

const ReadEvent* ReaderSource::peek() {
  if (!have_ && !ended_) {
    have_ = reader_.next(cur_);
    ended_ = !have_;
  }
  return have_ ? &cur_ : nullptr;
}

void ReaderSource::pop() {
  if (!peek()) return;
  uint64_t ordinal = cur_.event.ordinal;
  mark_.skip = ordinal == mark_.ordinal ? mark_.skip + 1 : 1;
  mark_.ordinal = ordinal;
  have_ = false;
}

void ReaderSource::rewind(const SourceMark& m) {
  reader_.seek(m.ordinal);
  have_ = ended_ = false;
  mark_ = {m.ordinal, 0};
  while (mark_.skip < m.skip && peek()) pop();
}

const ReadEvent* LookaheadSource::ahead(size_t n) {
  while (held_.size() <= n) {
    SourceMark m = inner_.mark();
    const ReadEvent* r = inner_.peek();
    if (!r) return nullptr;
    Held& h = held_.emplace_back(Held{StoredEvent(*r), m, {}});
    h.view = h.event.view();  // deque elements stay where they are
    inner_.pop();
  }
  return &held_[n].view;
}

void LookaheadSource::pop() {
  if (held_.empty()) return inner_.pop();
  held_.pop_front();
}

void LookaheadSource::rewind(const SourceMark& m) {
  held_.clear();
  inner_.rewind(m);
}

// As in the trace writer, bytes and text are one kind of side data: each is
// kept as what the kind has, and dropped for a kind without any.
void VectorEvents::append_bytes(const Event& e, std::span<const uint8_t> bytes) {
  StoredEvent& s = events.emplace_back(e);
  if (kind_has_bytes(e.kind)) s.bytes.assign(bytes.begin(), bytes.end());
  if (kind_has_text(e.kind)) s.text.assign(bytes.begin(), bytes.end());
}

void VectorEvents::append_text(const Event& e, std::string_view text) {
  append_bytes(e, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

void VectorEvents::append_landmark(const Event& e, const LandmarkData& lm) {
  StoredEvent& s = events.emplace_back(e);
  s.event.kind = EventKind::kLandmark;
  s.landmark = lm;
}

const ReadEvent* VectorEvents::peek() {
  if (next >= events.size()) return nullptr;
  cur_ = events[next].view();
  return &cur_;
}

}  // namespace rrvm::trace
