// What `rrvm info`, `dump` and `verify` print, as functions over a
// TraceReader so they are tested without the CLI (tools/cmd_trace.cc is a
// thin wrapper).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "trace/text_escape.h"
#include "trace/trace_reader.h"

namespace rrvm::trace {

struct TraceSummary {
  std::vector<uint64_t> counts = std::vector<uint64_t>(kEventKinds, 0);
  uint64_t events = 0;
  std::vector<uint64_t> modelled = std::vector<uint64_t>(kEventKinds, 0);  // reads as modelled
  uint64_t modelled_reads = 0;
  uint64_t side_bytes = 0;  // packet, DMA, console and text bytes
  uint64_t first_ordinal = 0, last_ordinal = 0;
  bool ordered = true;              // ordinals never go backwards
  std::optional<TraceError> error;  // damage met while reading; the counts stop there
};

// Reads every event from the start (decompressing and checksumming every
// chunk). Damage is recorded in `error`, not thrown.
TraceSummary summarize(TraceReader& reader);

// A page for people: status, header, configuration, images, counts by kind,
// sizes and bytes per event, the footer.
std::string info_text(const std::string& path, const TraceReader& reader, const TraceSummary& s);
std::string info_json(const std::string& path, const TraceReader& reader, const TraceSummary& s);

struct DumpFilter {
  std::optional<uint64_t> from, to;  // exit ordinals, inclusive
  std::optional<EventKind> kind;
};
// One line per event, "#ordinal kind field=value ..." (or one JSON object per
// line). Throws TraceError at damage, after the events before it.
void dump(TraceReader& reader, const DumpFilter& filter, bool json, std::ostream& out);
std::string format_event(const ReadEvent& e);
std::string event_json(const ReadEvent& e);

struct VerifyResult {
  TraceSummary summary;
  std::vector<std::string> problems;  // empty: the trace is complete and sound
};
// Checks every chunk's checksum and encoding, ordinal order, completeness,
// the footer's and the index's counts against the events, and every blob
// and image against its hash.
VerifyResult verify(TraceReader& reader);
std::string verify_json(const std::string& path, const VerifyResult& v);

}  // namespace rrvm::trace
