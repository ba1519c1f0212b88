// Copies a trace with edits, for tests that need a trace no rrvm would
// write: a changed value, another header. Header-only: only the tests that
// link the trace and replay libraries include it.
#pragma once

#include <functional>
#include <string>

#include "replay/trace_header.h"
#include "trace/event_stream.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

namespace rrvm::test {

inline void rewrite_trace(const std::string& in, const std::string& out,
                          const std::function<void(trace::StoredEvent&)>& edit,
                          const std::function<void(trace::HeaderInfo&)>& edit_header = {}) {
  trace::TraceReader reader(in);
  MachineImages images = images_from_trace(reader);
  trace::HeaderInfo header = reader.header();
  if (edit_header) edit_header(header);
  trace::TraceWriter writer(out, header);
  write_image_blobs(writer, images);
  trace::ReaderSource source(reader);
  while (const trace::ReadEvent* e = source.peek()) {
    trace::StoredEvent copy(*e);
    if (edit) edit(copy);
    writer.put(copy.view());
    source.pop();
  }
  writer.close(reader.footer().value_or(trace::FooterInfo{}));
}

}  // namespace rrvm::test
