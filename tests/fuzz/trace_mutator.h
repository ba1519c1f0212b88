// Structure-aware mutation of .rrt traces: the trace is parsed into records
// (tests/unit/trace_builder.h), a mutation changes a record's fields, a
// chunk's events, a blob, or the order and number of records, and the
// records are compressed again with valid checksums, usually with a fresh
// index and trailer. Mutants so get past zstd's checksums (where byte flips
// mostly stop) into the reader's, the inspector's and replay's logic.
// Used by the libFuzzer target (LLVMFuzzerCustomMutator) and by the fuzz
// test in the suite (tests/unit/tools_trace_fuzz_test.cc).
#pragma once

#include <capnp/dynamic.h>
#include <capnp/schema.h>

#include <algorithm>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "tests/unit/trace_builder.h"

namespace rrvm::trace::testing {

class TraceMutator {
 public:
  explicit TraceMutator(uint64_t seed) : rng_(seed) {}

  // A mutant of `trace`: one to three mutations. A trace that does not parse
  // into records gets byte edits.
  std::vector<uint8_t> mutate(std::span<const uint8_t> trace) {
    what_.clear();
    TraceBuilder t = TraceBuilder::parse(trace);
    if (records(t).empty()) return flip_bytes(std::vector<uint8_t>(trace.begin(), trace.end()));
    bool index_touched = false, bytes_after = false;
    for (int n = 1 + int(rng_() % 3); n > 0; --n) {
      unsigned pick = unsigned(rng_() % 100);
      if (pick < 30)
        index_touched |= mutate_field(t);
      else if (pick < 58)
        mutate_event(t);
      else if (pick < 78)
        mutate_records(t);
      else if (pick < 92)
        mutate_blob(t);
      else
        bytes_after = true;
    }
    // Usually keep the index right, so the mutant reaches past it.
    if (!index_touched && rng_() % 4 != 0) refresh_index(t);
    std::vector<uint8_t> out = t.bytes();
    return bytes_after ? flip_bytes(std::move(out)) : out;
  }

  // What the last mutant's mutations were, for reports.
  const std::string& last() const { return what_; }

 private:
  using Piece = TraceBuilder::Piece;

  uint64_t pick(uint64_t n) { return n ? rng_() % n : 0; }
  void note(const std::string& what) { what_ += (what_.empty() ? "" : ", ") + what; }

  static std::vector<size_t> records(TraceBuilder& t,
                                     std::optional<schema::TraceRecord::Which> which = {}) {
    std::vector<size_t> out;
    for (size_t i = 0; i < t.pieces().size(); ++i) {
      const Piece& p = t.pieces()[i];
      if (p.kind != Piece::kRecord) continue;
      if (!which || p.msg->getRoot<schema::TraceRecord>().which() == *which) out.push_back(i);
    }
    return out;
  }

  // A private copy of piece `i`'s message (pieces may share messages).
  static schema::TraceRecord::Builder own(Piece& p) {
    auto copy = std::make_shared<TraceBuilder::Message>();
    copy->setRoot(p.msg->getRoot<schema::TraceRecord>().asReader());
    p.msg = std::move(copy);
    return p.msg->getRoot<schema::TraceRecord>();
  }

  // ---- numbers and bytes ----

  uint64_t interesting(uint64_t old) {
    static const uint64_t kValues[] = {0,
                                       1,
                                       2,
                                       0x7f,
                                       0x80,
                                       0xff,
                                       0x100,
                                       0xffff,
                                       0x10000,
                                       0x7fffffff,
                                       0xffffffff,
                                       1ull << 32,
                                       1'000'000'000'000ull,
                                       1ull << 63,
                                       ~0ull,
                                       65536,
                                       65537,
                                       4096};
    switch (pick(5)) {
      case 0:
        return kValues[pick(std::size(kValues))];
      case 1:
        return old + 1;
      case 2:
        return old - 1;
      case 3:
        return old ^ (1ull << pick(64));
      default:
        return rng_();
    }
  }

  std::vector<uint8_t> mutate_bytes(std::vector<uint8_t> b) {
    switch (pick(6)) {
      case 0:
        if (!b.empty()) b[pick(b.size())] ^= uint8_t(1u << pick(8));
        break;
      case 1:
        b.insert(b.begin() + long(pick(b.size() + 1)), uint8_t(rng_()));
        break;
      case 2:
        if (!b.empty()) b.erase(b.begin() + long(pick(b.size())));
        break;
      case 3:
        b.resize(pick(b.size() + 1));
        break;
      case 4:
        b.resize(b.size() + 1 + pick(1u << (4 * (1 + pick(5)))), uint8_t(pick(2) ? 0 : rng_()));
        break;
      default:
        for (auto& x : b) x = uint8_t(rng_());
    }
    return b;
  }

  std::string mutate_text(const std::string& old) {
    static const char* kTexts[] = {"",
                                   "guest exit",
                                   "\x1b]0;pwned\x07\x1b[2J",
                                   "x\", \"pwn\": \"1",
                                   "0123456789abcdef",
                                   "00000000000000000000000000000000",
                                   "kernel",
                                   "initrd",
                                   "mem",
                                   "rtc-epoch",
                                   "99999999999999999999",
                                   "0",
                                   "4096",
                                   "1099511627776",
                                   "64M",
                                   "interrupted"};
    if (pick(2)) return kTexts[pick(std::size(kTexts))];
    std::vector<uint8_t> b = mutate_bytes(std::vector<uint8_t>(old.begin(), old.end()));
    std::string s(b.begin(), b.end());
    s.erase(std::remove(s.begin(), s.end(), '\0'), s.end());  // Text is NUL-terminated
    return s;
  }

  std::vector<uint8_t> flip_bytes(std::vector<uint8_t> b) {
    note("byte edits");
    for (int n = 1 + int(pick(4)); n > 0 && !b.empty(); --n) b = mutate_bytes(std::move(b));
    return b;
  }

  // ---- one field of one record, through the schema ----

  bool mutate_field(TraceBuilder& t) {
    std::vector<size_t> recs = records(t);
    if (recs.empty()) return false;  // an earlier mutation removed them all
    Piece& p = t.pieces()[recs[pick(recs.size())]];
    auto root = own(p);
    bool index = root.isIndex();
    capnp::DynamicStruct::Builder s = root;
    note(std::string("field ") + describe(s) + mutate_struct(s, 0));
    return index;
  }

  static std::string describe(capnp::DynamicStruct::Builder s) {
    KJ_IF_MAYBE (w, s.which()) return w->getProto().getName().cStr();
    return "record";
  }

  std::string mutate_struct(capnp::DynamicStruct::Builder s, int depth) {
    std::vector<capnp::StructSchema::Field> fields;
    for (auto f : s.getSchema().getNonUnionFields()) fields.push_back(f);
    KJ_IF_MAYBE (w, s.which()) fields.push_back(*w);
    if (fields.empty() || depth > 4) return "";
    auto f = fields[pick(fields.size())];
    std::string name = std::string(".") + f.getProto().getName().cStr();
    auto type = f.getType();
    switch (type.which()) {
      case capnp::schema::Type::STRUCT:
        return name + mutate_struct(s.get(f).as<capnp::DynamicStruct>(), depth + 1);
      case capnp::schema::Type::LIST:
        return name + mutate_list(s, f, depth);
      case capnp::schema::Type::TEXT:
        s.set(f, capnp::Text::Reader(
                     mutate_text(s.get(f).as<capnp::Text>().asString().cStr()).c_str()));
        return name;
      case capnp::schema::Type::DATA: {
        auto old = s.get(f).as<capnp::Data>();
        std::vector<uint8_t> b = mutate_bytes(std::vector<uint8_t>(old.begin(), old.end()));
        s.set(f, capnp::Data::Reader(b.data(), b.size()));
        return name;
      }
      default:
        set_number(s, f, type);
        return name;
    }
  }

  // A number of the field's own width (a wider one would not fit).
  void set_number(capnp::DynamicStruct::Builder s, capnp::StructSchema::Field f, capnp::Type type) {
    using T = capnp::schema::Type;
    uint64_t v = interesting(0);
    switch (type.which()) {
      case T::BOOL:
        s.set(f, bool(v & 1));
        break;
      case T::INT8:
        s.set(f, int8_t(v));
        break;
      case T::INT16:
        s.set(f, int16_t(v));
        break;
      case T::INT32:
        s.set(f, int32_t(v));
        break;
      case T::INT64:
        s.set(f, int64_t(v));
        break;
      case T::UINT8:
        s.set(f, uint8_t(v));
        break;
      case T::UINT16:
        s.set(f, uint16_t(v));
        break;
      case T::UINT32:
        s.set(f, uint32_t(v));
        break;
      case T::UINT64:
        s.set(f, uint64_t(v));
        break;
      default:
        break;
    }
  }

  std::string mutate_list(capnp::DynamicStruct::Builder s, capnp::StructSchema::Field f,
                          int depth) {
    auto list = s.get(f).as<capnp::DynamicList>();
    auto element = f.getType().asList().getElementType();
    if (list.size() == 0 || pick(3) == 0) return resize_list(s, f);
    uint32_t i = uint32_t(pick(list.size()));
    std::string at = "[" + std::to_string(i) + "]";
    using T = capnp::schema::Type;
    switch (element.which()) {
      case T::STRUCT:
        return at + mutate_struct(list[i].as<capnp::DynamicStruct>(), depth + 1);
      case T::TEXT:
        list.set(i, capnp::Text::Reader(
                        mutate_text(list[i].as<capnp::Text>().asString().cStr()).c_str()));
        return at;
      case T::UINT64:
        list.set(i, interesting(list[i].as<uint64_t>()));
        return at;
      default:
        return at;
    }
  }

  // A shorter or longer copy of the list.
  std::string resize_list(capnp::DynamicStruct::Builder s, capnp::StructSchema::Field f) {
    auto old = s.disown(f);
    auto from = old.getReader().as<capnp::DynamicList>();
    uint32_t n = uint32_t(pick(2) ? pick(from.size() + 1) : from.size() + 1 + pick(40));
    auto to = s.init(f, n).as<capnp::DynamicList>();
    for (uint32_t i = 0; i < n && i < from.size(); ++i) to.set(i, from[i]);
    for (uint32_t i = from.size(); i < n && from.size(); ++i) to.set(i, from[pick(from.size())]);
    return " resized " + std::to_string(from.size()) + "->" + std::to_string(n);
  }

  // ---- the events of one chunk ----

  void mutate_event(TraceBuilder& t) {
    std::vector<size_t> chunks = records(t, schema::TraceRecord::CHUNK);
    if (chunks.empty()) return mutate_records(t);
    Piece& p = t.pieces()[chunks[pick(chunks.size())]];
    std::vector<Item> items;
    try {
      items = items_of(own(p).getChunk().asReader());
    } catch (const TraceError&) {
      return (void)mutate_field(t);
    }
    if (items.empty()) return;
    size_t i = pick(items.size());
    note(std::string("event ") + kind_name(items[i].event.kind) + " " + edit_event(items, i));
    ChunkEncoder enc;
    encode_items(enc, items);
    auto fresh = std::make_shared<TraceBuilder::Message>();
    enc.finish(fresh->initRoot<schema::TraceRecord>().initChunk());
    p.msg = std::move(fresh);
  }

  std::string edit_event(std::vector<Item>& items, size_t i) {
    Event& e = items[i].event;
    switch (pick(9)) {
      case 0:
        e.kind = EventKind(pick(kEventKinds));
        return "kind";
      case 1:
        e.ordinal =
            pick(2) ? e.ordinal + interesting(0) % 1'000'000'000'001ull : interesting(e.ordinal);
        for (size_t k = i + 1; k < items.size() && pick(2); ++k) items[k].event.ordinal = e.ordinal;
        return "ordinal";
      case 2:
        e.a = interesting(e.a);
        return "a";
      case 3:
        e.b = interesting(e.b);
        return "b";
      case 4:
        e.flag ^= 1;
        e.size = uint8_t(interesting(e.size));
        return "flag/size";
      case 5:
        items[i].bytes = mutate_bytes(items[i].bytes);
        return "side bytes";
      case 6:
        items[i].landmark.rip = interesting(items[i].landmark.rip);
        items[i].landmark.cpl = uint8_t(pick(4));
        items[i].landmark.hits = uint32_t(interesting(items[i].landmark.hits));
        return "landmark";
      case 7:
        items.insert(items.begin() + long(i), items[i]);
        return "duplicated";
      default:
        items.erase(items.begin() + long(i));
        return "deleted";
    }
  }

  // ---- records: order, number, cut ----

  void mutate_records(TraceBuilder& t) {
    auto& ps = t.pieces();
    if (ps.empty()) return;
    size_t i = pick(ps.size()), j = pick(ps.size());
    switch (pick(6)) {
      case 0:
        note("record " + std::to_string(i) + " duplicated");
        ps.insert(ps.begin() + long(j), ps[i]);
        break;
      case 1:
        note("record " + std::to_string(i) + " deleted");
        ps.erase(ps.begin() + long(i));
        break;
      case 2:
        note("records " + std::to_string(i) + " and " + std::to_string(j) + " swapped");
        std::swap(ps[i], ps[j]);
        break;
      case 3: {
        note("record " + std::to_string(i) + " moved to " + std::to_string(j));
        Piece p = ps[i];
        ps.erase(ps.begin() + long(i));
        ps.insert(ps.begin() + long(std::min(j, ps.size())), p);
        break;
      }
      case 4:
        note("cut after record " + std::to_string(i));
        ps.resize(i + 1);
        break;
      default:
        note("trailer dropped");
        ps.erase(std::remove_if(ps.begin(), ps.end(),
                                [](const Piece& p) { return p.kind == Piece::kTrailer; }),
                 ps.end());
    }
  }

  // ---- blobs: sizes, parts, and large runs of zeros ----

  void mutate_blob(TraceBuilder& t) {
    std::vector<size_t> blobs = records(t, schema::TraceRecord::BLOB);
    if (blobs.empty()) return mutate_records(t);
    size_t at = blobs[pick(blobs.size())];
    auto b = own(t.pieces()[at]).getBlob();
    switch (pick(4)) {
      case 0: {
        // A consistent single-part blob of zeros: valid hash and size.
        std::vector<uint8_t> zeros(size_t{1} << (10 + pick(14)), 0);
        b.setData(kj::arrayPtr(zeros.data(), zeros.size()));
        b.setSize(zeros.size());
        b.setPart(0);
        b.setParts(1);
        b.setHash(content_hash(zeros));
        note("blob of " + std::to_string(zeros.size()) + " zeros");
        break;
      }
      case 1:
        b.setSize(interesting(b.getSize()));
        note("blob size");
        break;
      case 2:
        b.setParts(uint32_t(interesting(b.getParts())));
        b.setPart(uint32_t(pick(3) ? b.getPart() : interesting(b.getPart())));
        note("blob parts");
        break;
      default:
        split_blob(t, at, b.asReader());
    }
  }

  // The blob at piece `at` as many parts repeating its data, with the size
  // and hash of the whole (the 40 parts of 60 MiB, smaller).
  void split_blob(TraceBuilder& t, size_t at, schema::Blob::Reader b) {
    std::vector<uint8_t> data(b.getData().begin(), b.getData().end());
    // At most 32 MiB in all: the mutator holds every part while it compresses.
    uint32_t n = uint32_t(2 + pick(std::min<size_t>(40, (32u << 20) / (data.size() + 1))));
    ContentHasher hasher(std::string(32, '0'));
    for (uint32_t k = 0; k < n; ++k) hasher.update(data);
    std::string hash = hasher.digest(), role = b.getRole();
    TraceBuilder parts;
    for (uint32_t k = 0; k < n; ++k) parts.blob_part(hash, role, k, n, data.size() * n, data);
    auto& ps = t.pieces();
    ps.erase(ps.begin() + long(at));
    ps.insert(ps.begin() + long(at), parts.pieces().begin(), parts.pieces().end());
    note("blob in " + std::to_string(n) + " parts");
  }

  // The index rebuilt from the records around it (the trailer follows it).
  static void refresh_index(TraceBuilder& t) {
    for (Piece& p : t.pieces()) {
      if (p.kind == Piece::kRecord && p.msg->getRoot<schema::TraceRecord>().isIndex()) {
        p.kind = Piece::kIndex;
        p.msg.reset();
      }
    }
  }

  std::mt19937_64 rng_;
  std::string what_;
};

}  // namespace rrvm::trace::testing
