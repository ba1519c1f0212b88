// What `rrvm info`, `dump` and `verify` print, as functions over a
// TraceReader so they can be tested without the CLI.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trace/trace_reader.h"

namespace rrvm::trace {

struct TraceSummary {
  std::vector<uint64_t> counts = std::vector<uint64_t>(kEventKinds, 0);
  uint64_t events = 0;
  uint64_t first_ordinal = 0, last_ordinal = 0;
  bool ordinals_ordered = true;
  std::vector<std::string> problems;  // verify findings; empty = good
};

// Reads every event from the start (decompressing and checksumming every
// chunk). Throws
// TraceError for a damaged chunk.
TraceSummary summarize(TraceReader& reader);

std::string info_text(const TraceReader& reader, const TraceSummary& s);
std::string info_json(const TraceReader& reader, const TraceSummary& s);

struct DumpFilter {
  std::optional<uint64_t> from, to;
  std::optional<EventKind> kind;
};
// One line per event: "#ordinal kind fields" (or one JSON object per line).
void dump(TraceReader& reader, const DumpFilter& filter, bool json, std::string& out);
std::string format_event(const ReadEvent& e);

// "ok" or the problems; checks checksums, ordinal order, footer and index.
std::vector<std::string> verify(TraceReader& reader, TraceSummary* summary = nullptr);

std::string json_escape(const std::string& s);

}  // namespace rrvm::trace
