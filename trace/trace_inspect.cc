#include "trace/trace_inspect.h"

#include <cstdio>

namespace rrvm::trace {

namespace {

std::string hexs(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string human_bytes(uint64_t n) {
  char b[32];
  if (n >= (1u << 20))
    std::snprintf(b, sizeof b, "%.1f MiB", n / 1048576.0);
  else if (n >= 1024)
    std::snprintf(b, sizeof b, "%.1f KiB", n / 1024.0);
  else
    std::snprintf(b, sizeof b, "%llu B", static_cast<unsigned long long>(n));
  return b;
}

std::string status_text(const TraceReader& r) {
  return r.complete() ? "complete" : r.truncation();
}

}  // namespace

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += c;
        }
    }
  }
  return out;
}

TraceSummary summarize(TraceReader& reader) {
  TraceSummary s;
  reader.seek(0);  // from the start, whatever was read before
  ReadEvent e;
  uint64_t prev = 0;
  while (reader.next(e)) {
    if (s.events == 0) s.first_ordinal = e.event.ordinal;
    if (e.event.ordinal < prev) s.ordinals_ordered = false;
    prev = s.last_ordinal = e.event.ordinal;
    ++s.counts[static_cast<size_t>(e.event.kind)];
    ++s.events;
  }
  return s;
}

std::string format_event(const ReadEvent& r) {
  const Event& e = r.event;
  std::string s = "#" + std::to_string(e.ordinal) + " " + kind_name(e.kind);
  switch (e.kind) {
    case EventKind::kPortRead:
    case EventKind::kMmioRead:
      return s + " " + hexs(e.a) + " size " + std::to_string(e.size) + " = " + hexs(e.b);
    case EventKind::kMsrRead:
      return s + " " + hexs(e.a) + " = " + hexs(e.b);
    case EventKind::kInterrupt:
      return s + " vector " + hexs(e.a) + (e.flag ? " at landmark" : " at exit");
    case EventKind::kClockRead: {
      static const char* src[] = {"device", "timer-at-exit", "timer-at-kick"};
      return s + " " + (e.a < 3 ? src[e.a] : "?") + " " + std::to_string(e.b) + " ns";
    }
    case EventKind::kLandmark:
      return s + " rip " + hexs(r.landmark->rip) + " cpl " + std::to_string(r.landmark->cpl) +
             " rflags " + hexs(r.landmark->rflags) + " mem " + hexs(r.landmark->mem_digest);
    case EventKind::kRegDigest:
    case EventKind::kMemDigest:
      return s + " " + hexs(e.b);
    case EventKind::kGuestExit:
      return s + " status " + std::to_string(e.a) + " (" + (r.text ? *r.text : "") + ")";
    case EventKind::kNote:
      return s + " " + (r.text ? *r.text : "");
    default:
      return s + " " + std::to_string(r.payload ? r.payload->size() : 0) + " bytes";
  }
}

void dump(TraceReader& reader, const DumpFilter& f, bool json, std::string& out) {
  if (f.from) reader.seek(*f.from);
  ReadEvent e;
  while (reader.next(e)) {
    if (f.to && e.event.ordinal > *f.to) break;
    if (f.from && e.event.ordinal < *f.from) continue;
    if (f.kind && e.event.kind != *f.kind) continue;
    if (!json) {
      out += format_event(e) + "\n";
      continue;
    }
    out += "{\"ordinal\": " + std::to_string(e.event.ordinal) + ", \"kind\": \"" +
           kind_name(e.event.kind) + "\", \"a\": " + std::to_string(e.event.a) +
           ", \"b\": " + std::to_string(e.event.b) + ", \"size\": " + std::to_string(e.event.size) +
           ", \"text\": \"" + json_escape(format_event(e)) + "\"}\n";
  }
}

std::vector<std::string> verify(TraceReader& reader, TraceSummary* out) {
  std::vector<std::string> problems;
  TraceSummary s;
  try {
    s = summarize(reader);
  } catch (const TraceError& e) {
    problems.push_back(e.what());
    if (out) *out = s;
    return problems;
  }
  if (!s.ordinals_ordered) problems.push_back("event ordinals go backwards");
  if (!reader.complete()) problems.push_back("incomplete: " + reader.truncation());
  if (reader.footer() && reader.footer()->total_events != s.events) {
    problems.push_back("footer counts " + std::to_string(reader.footer()->total_events) +
                       " events, the chunks hold " + std::to_string(s.events));
  }
  if (!reader.index_counts().empty() && reader.index_counts() != s.counts) {
    problems.push_back("index event counts do not match the chunks");
  }
  if (out) *out = s;
  return problems;
}

std::string info_text(const TraceReader& r, const TraceSummary& s) {
  const HeaderInfo& h = r.header();
  std::string o;
  o += "trace format " + std::to_string(h.format_major) + "." + std::to_string(h.format_minor) +
       ", written by rrvm " + h.rrvm_version + "\n";
  o += "host: " + h.host_kernel + ", " + h.host_cpu + "\n";
  o += "clock: " + h.clock_mode + "\nmachine:";
  for (const auto& [k, v] : h.config) o += " " + k + "=" + v;
  o += "\nimages:\n";
  for (const auto& i : h.images) {
    o += "  " + i.role + " " + i.name + " (" + human_bytes(i.size) + ") " + i.hash + "\n";
  }
  o += "status: " + status_text(r) + "\n";
  if (r.footer()) {
    o += "run ended: " + r.footer()->end_reason + ", guest status " +
         std::to_string(r.footer()->guest_status) + ", " + std::to_string(r.footer()->exits) +
         " exits\n";
  }
  o += "events: " + std::to_string(s.events) + " in " + std::to_string(r.chunk_count()) +
       " chunks\n";
  for (int k = 0; k < kEventKinds; ++k) {
    if (s.counts[size_t(k)])
      o += "  " + std::string(kind_name(EventKind(k))) + ": " +
           std::to_string(s.counts[size_t(k)]) + "\n";
  }
  char per[64];
  std::snprintf(per, sizeof per, "%.2f", s.events ? double(r.file_size()) / double(s.events) : 0.0);
  o += "size: " + human_bytes(r.file_size()) + " (" + per + " bytes per event, images included)\n";
  return o;
}

std::string info_json(const TraceReader& r, const TraceSummary& s) {
  const HeaderInfo& h = r.header();
  std::string o =
      "{\"format\": \"" + std::to_string(h.format_major) + "." + std::to_string(h.format_minor) +
      "\", \"rrvm_version\": \"" + json_escape(h.rrvm_version) +
      "\", \"complete\": " + (r.complete() ? "true" : "false") + ", \"status\": \"" +
      json_escape(status_text(r)) + "\", \"file_bytes\": " + std::to_string(r.file_size()) +
      ", \"events\": " + std::to_string(s.events) + ", \"config\": {";
  for (size_t i = 0; i < h.config.size(); ++i) {
    o += (i ? ", \"" : "\"") + json_escape(h.config[i].first) + "\": \"" +
         json_escape(h.config[i].second) + "\"";
  }
  o += "}, \"images\": [";
  for (size_t i = 0; i < h.images.size(); ++i) {
    o += std::string(i ? ", " : "") + "{\"role\": \"" + json_escape(h.images[i].role) +
         "\", \"name\": \"" + json_escape(h.images[i].name) + "\", \"hash\": \"" +
         h.images[i].hash + "\", \"size\": " + std::to_string(h.images[i].size) + "}";
  }
  o += "], \"counts\": {";
  bool first = true;
  for (int k = 0; k < kEventKinds; ++k) {
    if (!s.counts[size_t(k)]) continue;
    o += std::string(first ? "" : ", ") + "\"" + kind_name(EventKind(k)) +
         "\": " + std::to_string(s.counts[size_t(k)]);
    first = false;
  }
  o += "}";
  if (r.footer()) {
    o += ", \"end_reason\": \"" + json_escape(r.footer()->end_reason) +
         "\", \"guest_status\": " + std::to_string(r.footer()->guest_status) +
         ", \"exits\": " + std::to_string(r.footer()->exits);
  }
  return o + "}\n";
}

}  // namespace rrvm::trace
