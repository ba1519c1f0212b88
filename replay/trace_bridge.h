// Maps the engine's InputEvents to trace records and back.
#pragma once

#include "replay/input_event.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

namespace rrvm {

class TraceEventSink final : public EventSink {
 public:
  explicit TraceEventSink(trace::TraceWriter& writer) : writer_(writer) {}
  // Throws TraceWriteError as soon as the writer reports a failure, so a
  // full disk stops the recording instead of silently losing events.
  void put(const InputEvent& e) override;
  void flush() override { writer_.request_flush(); }

 private:
  trace::TraceWriter& writer_;
};

class TraceEventSource final : public EventSource {
 public:
  explicit TraceEventSource(trace::TraceReader& reader) : reader_(reader) {}
  const InputEvent* peek() override;
  void pop() override { have_ = false; }

 private:
  trace::TraceReader& reader_;
  InputEvent cur_;
  bool have_ = false;
  bool ended_ = false;
};

}  // namespace rrvm
