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

// The last guest-exit event: how the recorded run ended.
struct EndEvent {
  uint64_t ordinal = 0;
  int64_t code = 0;  // the guest's status
  std::string reason;
};

struct TraceSummary {
  std::vector<uint64_t> counts = std::vector<uint64_t>(kEventKinds, 0);
  uint64_t events = 0;
  std::vector<uint64_t> modelled = std::vector<uint64_t>(kEventKinds, 0);  // reads as modelled
  uint64_t modelled_reads = 0;
  uint64_t side_bytes = 0;  // packet, DMA, console and text bytes
  uint64_t first_ordinal = 0, last_ordinal = 0;
  std::optional<EndEvent> end;      // the last guest-exit event
  std::optional<TraceError> error;  // damage met while reading events; the counts stop there
  // Damage outside the events: blobs that fail their size or hash, frames
  // the index does not account for.
  std::vector<TraceError> damage;
  bool damaged() const { return error || !damage.empty(); }
};

// Reads every event from the start (decompressing and checksumming every
// chunk), every blob (checked against its hash, one part in memory at a
// time) and, through an index, every frame header. Damage is recorded in
// `error` and `damage`, not thrown.
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
// the footer's and the index's counts and the footer's end state (exits,
// end reason, guest status) against the events, every blob against its
// hash and every image of the header against its blob.
VerifyResult verify(TraceReader& reader);
std::string verify_json(const std::string& path, const VerifyResult& v);

}  // namespace rrvm::trace
