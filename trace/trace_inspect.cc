// rrvm info and verify: a summary of every event plus the header, footer and
// index, checked against each other.
#include "trace/trace_inspect.h"

#include "trace/json_writer.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace rrvm::trace {

namespace {

std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_bytes(uint64_t n) {
  char b[32];
  if (n >= (uint64_t{1} << 20))
    std::snprintf(b, sizeof b, "%.1f MiB", double(n) / double(1 << 20));
  else if (n >= 1024)
    std::snprintf(b, sizeof b, "%.1f KiB", double(n) / 1024.0);
  else
    std::snprintf(b, sizeof b, "%" PRIu64 " B", n);
  return b;
}

std::string hex64(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%016" PRIx64, v);
  return b;
}

std::string utc(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  char b[40];
  if (!gmtime_r(&t, &tm) || !std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S UTC", &tm))
    return std::to_string(unix_seconds);
  return b;
}

double per_event(uint64_t bytes, uint64_t events) {
  return events ? double(bytes) / double(events) : 0.0;
}

std::string status_line(const TraceReader& r, const TraceSummary& s) {
  if (s.error) return std::string("damaged: ") + s.error->what();
  if (!s.damage.empty()) {
    std::string more =
        s.damage.size() > 1 ? " (and " + std::to_string(s.damage.size() - 1) + " more)" : "";
    return std::string("damaged: ") + s.damage.front().what() + more;
  }
  return r.complete() ? "complete" : r.truncation();
}

// A trace's string as one line of terminal text.
std::string line(std::string_view s) {
  return escape_text(s, Escape::kLine);
}

// Bytes of all embedded images, as given or as stored (compressed).
uint64_t image_bytes(const TraceReader& r, bool stored) {
  uint64_t n = 0;
  for (const BlobInfo& b : r.blobs()) n += stored ? b.stored_bytes : b.size;
  return n;
}

std::string blob_bytes_note(const TraceReader& r) {
  return human_bytes(image_bytes(r, false)) + " of embedded images in " +
         human_bytes(image_bytes(r, true));
}

// What the events leave to replay's device models (trace.capnp, "What a
// trace stores").
std::string values_note(const HeaderInfo& h) {
  if (!h.reads_modelled) return "every read and clock value stored";
  std::string what = h.clock_mode == "virtual" ? "reads, interrupts at exits and guest time"
                                               : "reads and interrupts at exits";
  return what + " left to the device models (models " +
         (h.device_models.empty() ? std::string("unnamed") : line(h.device_models)) + ")";
}

// "host probe: 34 ring-0 instructions tried; emulation-failure: int3, cmpxchg16b (cx16)"
void info_probe(std::string& o, const std::vector<InstructionProbe>& probe) {
  if (probe.empty()) {
    o += "host probe: not recorded (trace from an older rrvm)\n";
    return;
  }
  o += "host probe: " + std::to_string(probe.size()) + " ring-0 instructions tried";
  for (ProbeOutcome want : {ProbeOutcome::kEmulationFailure, ProbeOutcome::kFaults}) {
    std::string list;
    for (const InstructionProbe& p : probe) {
      if (p.outcome != want) continue;
      list += (list.empty() ? "" : ", ") + line(p.instruction);
      if (!p.feature.empty()) list += " (" + line(p.feature) + ")";
    }
    if (!list.empty()) o += std::string("; ") + outcome_name(want) + ": " + list;
  }
  o += "\n";
}

// Every string here comes from the trace, so each goes through line().
void info_header(std::string& o, const HeaderInfo& h) {
  o += "format: " + std::to_string(h.format_major) + "." + std::to_string(h.format_minor) +
       ", written by rrvm " + line(h.rrvm_version) + " on " + utc(h.created_unix_seconds) + "\n";
  o += "host: " + line(h.host_kernel) + "; " + line(h.host_cpu) + "\n";
  if (!h.kvm_capabilities.empty()) {
    o += "kvm caps:";
    for (const auto& c : h.kvm_capabilities) o += " " + line(c);
    o += "\n";
  }
  o += "clock: " + line(h.clock_mode) + "\n";
  o += "values: " + values_note(h) + "\n";
  o += "machine:";
  for (const auto& [k, v] : h.config) o += " " + line(k) + "=" + line(v);
  o += "\ncpuid: " + std::to_string(h.cpuid.size()) + " leaves\n";
  info_probe(o, h.host_probe);
  if (!h.host_forced_cpuid.empty()) {
    o += "host forced CPUID flags:";
    for (const std::string& f : h.host_forced_cpuid) o += " " + line(f);
    o += "\n";
  }
  for (const ImageRef& i : h.images) {
    o += "image: " + line(i.role) + " " + line(i.name) + " (" + human_bytes(i.size) + ", hash " +
         line(i.hash) + ")\n";
  }
}

void info_events(std::string& o, const TraceReader& r, const TraceSummary& s) {
  o += "events: " + grouped(s.events) + " in " + std::to_string(r.chunk_count()) +
       (r.chunk_count() == 1 ? " chunk" : " chunks") + ", exit ordinals " +
       grouped(s.first_ordinal) + ".." + grouped(s.last_ordinal) + "\n";
  for (int k = 0; k < kEventKinds; ++k) {
    uint64_t n = s.counts[size_t(k)];
    if (!n) continue;
    char line[96];
    std::snprintf(line, sizeof line, "  %-14s %12s", kind_name(EventKind(k)), grouped(n).c_str());
    o += line;
    if (uint64_t m = s.modelled[size_t(k)]) o += "  (" + grouped(m) + " as modelled)";
    o += "\n";
  }
  char size[160];
  std::snprintf(size, sizeof size, "size: %s file; events %s compressed, %.2f bytes/event; %s\n",
                human_bytes(r.file_size()).c_str(), human_bytes(r.chunk_bytes()).c_str(),
                per_event(r.chunk_bytes(), s.events), blob_bytes_note(r).c_str());
  o += size;
}

void info_footer(std::string& o, const FooterInfo& f) {
  o += "end: " + line(f.end_reason) + " (guest status " + std::to_string(f.guest_status) +
       ") after " + grouped(f.exits) + " exits\n";
  o += "final: registers " + hex64(f.final_reg_digest) + ", memory " + hex64(f.final_mem_digest) +
       "\n";
}

void json_counts(JsonWriter& j, const std::vector<uint64_t>& counts) {
  j.begin_object();
  for (size_t k = 0; k < counts.size() && k < kEventKinds; ++k) {
    if (counts[k]) j.field(kind_name(EventKind(k)), counts[k]);
  }
  j.end_object();
}

void json_header(JsonWriter& j, const HeaderInfo& h) {
  j.field("format", std::to_string(h.format_major) + "." + std::to_string(h.format_minor))
      .field("rrvm_version", h.rrvm_version)
      .field("created_unix_seconds", h.created_unix_seconds)
      .field("clock_mode", h.clock_mode)
      .field("reads_modelled", h.reads_modelled)
      .field("device_models", h.device_models);
  j.key("host").begin_object().field("kernel", h.host_kernel).field("cpu", h.host_cpu);
  j.key("kvm_capabilities").strings(h.kvm_capabilities).end_object();
  j.key("config").begin_array();
  for (const auto& [k, v] : h.config) j.begin_array().value(k).value(v).end_array();
  j.end_array().field("cpuid_leaves", h.cpuid.size()).key("host_probe").begin_array();
  for (const InstructionProbe& p : h.host_probe) {
    j.begin_object().field("instruction", p.instruction).field("feature", p.feature);
    j.field("outcome", outcome_name(p.outcome)).field("vector", p.vector).end_object();
  }
  j.end_array().key("host_forced_cpuid").strings(h.host_forced_cpuid).key("images").begin_array();
  for (const ImageRef& m : h.images) {
    j.begin_object().field("role", m.role).field("name", m.name).field("hash", m.hash);
    j.field("size", m.size).end_object();
  }
  j.end_array();
}

void json_footer(JsonWriter& j, const std::optional<FooterInfo>& f) {
  if (!f) {
    j.null();
    return;
  }
  j.begin_object()
      .field("end_reason", f->end_reason)
      .field("guest_status", f->guest_status)
      .field("exits", f->exits)
      .field("total_events", f->total_events)
      .field("final_reg_digest", hex64(f->final_reg_digest))
      .field("final_mem_digest", hex64(f->final_mem_digest))
      .end_object();
}

void check_counts(const TraceReader& r, const TraceSummary& s, std::vector<std::string>& out) {
  if (const auto& f = r.footer()) {
    if (f->total_events != s.events)
      out.push_back("the footer counts " + std::to_string(f->total_events) +
                    " events, the chunks hold " + std::to_string(s.events));
    if (!f->counts_by_kind.empty() && f->counts_by_kind != s.counts)
      out.push_back("the footer's counts by kind differ from the chunks'");
  }
  if (!r.index_counts().empty() && r.index_counts() != s.counts)
    out.push_back("the index's counts by kind differ from the chunks'");
}

// The footer's end state against the events: the exit count (the last
// ordinal, or one more as the writer's default), and the end reason and
// status of the last guest-exit event.
void check_end(const TraceReader& r, const TraceSummary& s, std::vector<std::string>& out) {
  const auto& f = r.footer();
  if (!f || s.error) return;
  if (s.events && (f->exits < s.last_ordinal || f->exits > s.last_ordinal + 1))
    out.push_back("the footer says the run made " + std::to_string(f->exits) +
                  " exits; the events go to exit " + std::to_string(s.last_ordinal));
  std::string footer_end = "'" + f->end_reason + "' with status " + std::to_string(f->guest_status);
  if (!s.end) {
    out.push_back("the footer says the run ended by " + footer_end +
                  ", but no guest-exit event records the end");
  } else if (f->end_reason != s.end->reason || int64_t{f->guest_status} != s.end->code) {
    out.push_back("the footer says the run ended by " + footer_end +
                  "; the last guest-exit event (exit " + std::to_string(s.end->ordinal) +
                  ") says '" + s.end->reason + "' with status " + std::to_string(s.end->code));
  }
}

// Every image the header names is embedded with its size (the blobs' hashes
// are checked by summarize()).
void check_images(const TraceReader& r, std::vector<std::string>& out) {
  std::vector<BlobInfo> blobs = r.blobs();
  for (const ImageRef& i : r.header().images) {
    auto b = std::find_if(blobs.begin(), blobs.end(),
                          [&](const BlobInfo& x) { return x.hash == i.hash; });
    if (b == blobs.end())
      out.push_back("image " + i.role + " (" + i.hash + ") is not embedded");
    else if (b->size != i.size)
      out.push_back("image " + i.role + " (" + i.hash + ") has " + std::to_string(i.size) +
                    " bytes in the header, " + std::to_string(b->size) + " in its blob");
  }
}

// Every blob against its size and hash, without holding it in memory.
void check_blobs(TraceReader& r, std::vector<TraceError>& out) {
  for (const BlobInfo& b : r.blobs()) {
    try {
      r.read_blob(b.hash, [](std::span<const uint8_t>) {});
    } catch (const TraceError& e) {
      out.push_back(e);
    }
  }
}

void count_event(TraceSummary& s, const ReadEvent& e) {
  const Event& ev = e.event;
  if (s.events == 0) s.first_ordinal = ev.ordinal;
  s.last_ordinal = ev.ordinal;
  ++s.counts[static_cast<size_t>(ev.kind)];
  s.modelled[static_cast<size_t>(ev.kind)] += ev.modelled();
  s.modelled_reads += ev.modelled();
  s.side_bytes += (e.payload ? e.payload->size() : 0) + (e.text ? e.text->size() : 0);
  if (ev.kind == EventKind::kGuestExit)
    s.end = EndEvent{ev.ordinal, ev.code(), e.text ? *e.text : ""};
  ++s.events;
}

}  // namespace

TraceSummary summarize(TraceReader& reader) {
  TraceSummary s;
  reader.seek(0);
  ReadEvent e;
  try {
    while (reader.next(e)) count_event(s, e);
  } catch (const TraceError& err) {
    s.error = err;
  }
  check_blobs(reader, s.damage);
  for (TraceError& err : reader.check_layout()) s.damage.push_back(std::move(err));
  return s;
}

std::string info_text(const std::string& path, const TraceReader& r, const TraceSummary& s) {
  std::string o = "trace: " + line(path) + "\nstatus: " + line(status_line(r, s)) + "\n";
  info_header(o, r.header());
  info_events(o, r, s);
  if (r.footer()) info_footer(o, *r.footer());
  return o;
}

std::string info_json(const std::string& path, const TraceReader& r, const TraceSummary& s) {
  JsonWriter j;
  j.begin_object()
      .field("path", path)
      .field("complete", r.complete())
      .field("status", status_line(r, s))
      .field("damaged", s.damaged())
      .field("file_bytes", r.file_size())
      .field("valid_bytes", r.valid_bytes());
  json_header(j, r.header());
  j.field("events", s.events).key("counts");
  json_counts(j, s.counts);
  j.field("modelled_reads", s.modelled_reads)
      .field("first_ordinal", s.first_ordinal)
      .field("last_ordinal", s.last_ordinal)
      .field("chunks", r.chunk_count())
      .field("chunk_bytes", r.chunk_bytes())
      .field("image_bytes", image_bytes(r, false))
      .field("image_stored_bytes", image_bytes(r, true))
      .field("bytes_per_event", std::round(per_event(r.chunk_bytes(), s.events) * 1000) / 1000)
      .key("footer");
  json_footer(j, r.footer());
  return j.end_object().str() + "\n";
}

VerifyResult verify(TraceReader& reader) {
  VerifyResult v;
  v.summary = summarize(reader);
  std::vector<std::string>& p = v.problems;
  if (v.summary.error) p.push_back(v.summary.error->what());
  for (const TraceError& e : v.summary.damage) p.push_back(e.what());
  if (!reader.complete()) p.push_back("incomplete: " + reader.truncation());
  if (!v.summary.error) check_counts(reader, v.summary, p);
  check_end(reader, v.summary, p);
  check_images(reader, p);
  return v;
}

std::string verify_json(const std::string& path, const VerifyResult& v) {
  JsonWriter j;
  j.begin_object().field("path", path).field("ok", v.problems.empty());
  j.field("events", v.summary.events).key("problems").strings(v.problems);
  return j.end_object().str() + "\n";
}

}  // namespace rrvm::trace
