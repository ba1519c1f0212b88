#include "replay/trace_bridge.h"

namespace rrvm {

namespace {

using trace::EventKind;

EventKind to_trace(InputKind k) {
  switch (k) {
    case InputKind::kPortRead:
      return EventKind::kPortRead;
    case InputKind::kMmioRead:
      return EventKind::kMmioRead;
    case InputKind::kClockRead:
      return EventKind::kClockRead;
    case InputKind::kInterrupt:
      return EventKind::kInterrupt;
    case InputKind::kLandmark:
      return EventKind::kLandmark;
    case InputKind::kRegDigest:
      return EventKind::kRegDigest;
    case InputKind::kMemDigest:
      return EventKind::kMemDigest;
    case InputKind::kConsoleInput:
      return EventKind::kConsoleInput;
    case InputKind::kGuestExit:
      return EventKind::kGuestExit;
    case InputKind::kPacket:
      return EventKind::kPacket;
  }
  return EventKind::kNote;
}

std::optional<InputKind> from_trace(EventKind k) {
  switch (k) {
    case EventKind::kPortRead:
      return InputKind::kPortRead;
    case EventKind::kMmioRead:
      return InputKind::kMmioRead;
    case EventKind::kClockRead:
      return InputKind::kClockRead;
    case EventKind::kInterrupt:
      return InputKind::kInterrupt;
    case EventKind::kLandmark:
      return InputKind::kLandmark;
    case EventKind::kRegDigest:
      return InputKind::kRegDigest;
    case EventKind::kMemDigest:
      return InputKind::kMemDigest;
    case EventKind::kConsoleInput:
      return InputKind::kConsoleInput;
    case EventKind::kGuestExit:
      return InputKind::kGuestExit;
    case EventKind::kPacket:
      return InputKind::kPacket;
    default:
      return std::nullopt;  // notes and kinds this engine does not replay
  }
}

trace::LandmarkData to_trace(const Landmark& lm) {
  trace::LandmarkData d;
  d.rip = lm.regs.rip;
  d.gprs = lm.regs.gpr;
  d.rflags = lm.regs.rflags;
  d.mem_digest = lm.mem_digest;
  d.cpl = lm.cpl;
  return d;
}

Landmark from_trace(const trace::LandmarkData& d, uint64_t ordinal) {
  Landmark lm;
  lm.ordinal = ordinal;
  lm.regs.rip = d.rip;
  lm.regs.gpr = d.gprs;
  lm.regs.rflags = d.rflags;
  lm.mem_digest = d.mem_digest;
  lm.cpl = d.cpl;
  return lm;
}

}  // namespace

// Field mapping (trace/event.h): digests keep their value in b; a guest exit
// keeps status in a and the stop reason in b.
void TraceEventSink::put(const InputEvent& e) {
  if (writer_.failed()) throw trace::TraceWriteError(writer_.error());
  trace::Event t;
  t.kind = to_trace(e.kind);
  t.ordinal = e.ordinal;
  t.size = e.size;
  t.flag = e.async ? 1 : 0;
  t.a = e.addr;
  t.b = e.value;
  switch (e.kind) {
    case InputKind::kInterrupt:
      t.a = e.value;
      break;
    case InputKind::kGuestExit:
      t.a = e.value;
      t.b = e.addr;
      writer_.append_text(t, e.text);
      return;
    case InputKind::kLandmark:
      writer_.append_landmark(t, to_trace(e.landmark));
      return;
    case InputKind::kConsoleInput:
    case InputKind::kPacket:
      writer_.append_payload(t, e.bytes);
      return;
    default:
      break;
  }
  writer_.append(t);
}

const InputEvent* TraceEventSource::peek() {
  while (!have_ && !ended_) {
    trace::ReadEvent r;
    if (!reader_.next(r)) {
      ended_ = true;
      break;
    }
    auto kind = from_trace(r.event.kind);
    if (!kind) continue;
    cur_ = InputEvent{};
    cur_.kind = *kind;
    cur_.ordinal = r.event.ordinal;
    cur_.size = r.event.size;
    cur_.async = r.event.flag != 0;
    cur_.addr = r.event.a;
    cur_.value = r.event.b;
    if (*kind == InputKind::kInterrupt) {
      cur_.value = r.event.a;
      cur_.addr = 0;
    } else if (*kind == InputKind::kGuestExit) {
      cur_.value = r.event.a;
      cur_.addr = r.event.b;
      if (r.text) cur_.text = *r.text;
    } else if (*kind == InputKind::kLandmark && r.landmark) {
      cur_.landmark = from_trace(*r.landmark, r.event.ordinal);
    } else if ((*kind == InputKind::kConsoleInput || *kind == InputKind::kPacket) && r.payload) {
      cur_.bytes = *r.payload;
    }
    have_ = true;
  }
  return have_ ? &cur_ : nullptr;
}

}  // namespace rrvm
