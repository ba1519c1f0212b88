// One event as a line of text or a JSON object (rrvm dump). Both come from
// the same per-kind field list, so they always agree.
#include <cinttypes>
#include <cstdio>

#include "trace/json_writer.h"
#include "trace/text_escape.h"
#include "trace/trace_inspect.h"

namespace rrvm::trace {

namespace {

constexpr size_t kPreviewBytes = 32;
constexpr const char* kGprNames[16] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
                                       "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

struct Field {
  enum Type { kHex, kDec, kInt, kBool, kStr } type;
  const char* name;
  uint64_t num = 0;
  std::string str;
};

Field hex(const char* n, uint64_t v) {
  return {Field::kHex, n, v, {}};
}
Field dec(const char* n, uint64_t v) {
  return {Field::kDec, n, v, {}};
}
Field str(const char* n, std::string v) {
  return {Field::kStr, n, 0, std::move(v)};
}

std::string hex_bytes(const std::vector<uint8_t>& b) {
  std::string out;
  char x[3];
  for (size_t i = 0; i < b.size() && i < kPreviewBytes; ++i) {
    std::snprintf(x, sizeof x, "%02x", b[i]);
    out += x;
  }
  return b.size() > kPreviewBytes ? out + "..." : out;
}

Field field(const FieldLayout& l, uint64_t v) {
  Field::Type t = l.shown == Shown::kDec   ? Field::kDec
                  : l.shown == Shown::kInt ? Field::kInt
                                           : Field::kHex;
  return {t, l.name, v, {}};
}

void add_bytes(std::vector<Field>& f, const ReadEvent& r, const KindLayout& k) {
  static const std::vector<uint8_t> kNone;
  const std::vector<uint8_t>& b = r.payload ? *r.payload : kNone;
  f.push_back(dec("bytes", b.size()));
  if (k.side_shown == Shown::kText)
    f.push_back(str(k.side_name, std::string(b.begin(), b.end())));
  else
    f.push_back(str(k.side_name, hex_bytes(b)));
}

void add_landmark(std::vector<Field>& f, const LandmarkData& lm) {
  f.push_back(hex("rip", lm.rip));
  f.push_back(dec("hits", lm.hits));
  f.push_back(dec("cpl", lm.cpl));
  f.push_back(hex("rflags", lm.rflags));
  f.push_back(hex("mem", lm.mem_digest));
  for (int i = 0; i < 16; ++i) f.push_back(hex(kGprNames[i], lm.gprs[i]));
}

// The event's fields in its kind's order (kKindLayouts): a, size, b or the
// flag's meaning, side data.
std::vector<Field> fields_of(const ReadEvent& r) {
  const Event& e = r.event;
  const KindLayout& k = kind_layout(e.kind);
  std::vector<Field> f;
  if (k.a.coding != Coding::kNone) f.push_back(field(k.a, e.a));
  if (k.sized) f.push_back(dec("size", e.size));
  if (e.modelled())
    f.push_back({Field::kBool, "modelled", 1, {}});
  else if (k.b.coding != Coding::kNone)
    f.push_back(field(k.b, e.b));
  if (k.flag == FlagUse::kAtLandmark) f.push_back(str("at", e.flag ? "landmark" : "exit"));
  switch (k.side) {
    case SideData::kBytes:
      add_bytes(f, r, k);
      break;
    case SideData::kText:
      f.push_back(str(k.side_name, r.text ? *r.text : ""));
      break;
    case SideData::kLandmark:
      if (r.landmark) add_landmark(f, *r.landmark);
      break;
    case SideData::kNone:
      break;
  }
  return f;
}

std::string number(const Field& f) {
  char b[32];
  if (f.type == Field::kHex) std::snprintf(b, sizeof b, "0x%" PRIx64, f.num);
  if (f.type == Field::kDec) std::snprintf(b, sizeof b, "%" PRIu64, f.num);
  if (f.type == Field::kInt) std::snprintf(b, sizeof b, "%" PRId64, static_cast<int64_t>(f.num));
  return b;
}

}  // namespace

std::string format_event(const ReadEvent& r) {
  std::string line = "#" + std::to_string(r.event.ordinal) + " " + kind_name(r.event.kind);
  for (const Field& f : fields_of(r)) {
    line += ' ';
    line += f.name;
    if (f.type == Field::kBool) continue;  // "modelled" alone says it
    line += '=';
    // Text is quoted and escaped like a JSON string so a line stays a line.
    line += f.type == Field::kStr ? "\"" + json_escape(f.str) + "\"" : number(f);
  }
  return line;
}

std::string event_json(const ReadEvent& r) {
  JsonWriter j;
  j.begin_object().field("ordinal", r.event.ordinal).field("kind", kind_name(r.event.kind));
  for (const Field& f : fields_of(r)) {
    j.key(f.name);
    if (f.type == Field::kStr)
      j.value(f.str);
    else if (f.type == Field::kBool)
      j.value(f.num != 0);
    else if (f.type == Field::kInt)
      j.value(static_cast<int64_t>(f.num));
    else
      j.value(f.num);  // JSON numbers are decimal
  }
  return j.end_object().str();
}

void dump(TraceReader& reader, const DumpFilter& filter, bool json, std::ostream& out) {
  reader.seek(filter.from.value_or(0));
  ReadEvent e;
  while (reader.next(e)) {
    if (filter.to && e.event.ordinal > *filter.to) break;
    if (filter.kind && e.event.kind != *filter.kind) continue;
    out << (json ? event_json(e) : format_event(e)) << '\n';
  }
}

}  // namespace rrvm::trace
