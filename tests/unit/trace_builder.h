// A hostile-trace builder for tests and fuzzing: writes records (header,
// blobs, chunks with arbitrary events, index, footer, trailer) one valid
// zstd frame each, with content size and checksum, so a test states a
// damaged or lying trace in a few lines and the reader gets past the
// checksums to the logic under test:
//
//   TraceBuilder t;
//   t.header().chunk({exit_at(1'000'000'000'000, 5)}).index().footer(f).trailer();
//   TraceReader r(t.bytes());
//
// parse() turns a trace back into pieces (tests/fuzz/trace_mutator.h edits
// them). No gtest here: the libFuzzer target includes it too.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "trace/byte_source.h"
#include "trace/chunk_codec.h"
#include "trace/frame_io.h"
#include "trace/records.h"

namespace rrvm::trace::testing {

// One event with its side data.
struct Item {
  Event event;
  std::vector<uint8_t> bytes;  // payload or text
  LandmarkData landmark;
  bool operator==(const Item&) const = default;
};

// Adds `items` to `enc` as the writer would (landmarks with their data).
inline void encode_items(ChunkEncoder& enc, const std::vector<Item>& items) {
  for (const Item& it : items) {
    if (it.event.kind == EventKind::kLandmark)
      enc.add_landmark(it.event, it.landmark);
    else
      enc.add(it.event, it.bytes);
  }
}

inline Item text_item(Event e, std::string_view text) {
  return {e, std::vector<uint8_t>(text.begin(), text.end()), {}};
}

inline HeaderInfo test_header() {
  HeaderInfo h;
  h.rrvm_version = "test";
  h.created_unix_seconds = 1700000000;
  h.host_kernel = "Linux 6.1.0 x86_64";
  h.host_cpu = "Test CPU @ 1.00GHz";
  h.kvm_capabilities = {"KVM_CAP_USER_MEMORY", "KVM_CAP_SET_TSS_ADDR"};
  h.config = {{"mem", "256M"}, {"mptable", "fixed"}, {"clock", "virtual"}, {"acpi", "on"}};
  h.clock_mode = "virtual";
  h.cpuid = {{0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69},
             {1, 0, 0, 0x600, 0, 0x80000000u, 0}};
  std::vector<uint8_t> kernel = {1, 2, 3};
  h.images = {{"kernel", "k.elf", content_hash(kernel), 3}};
  h.host_probe = {{"int3", "", ProbeOutcome::kEmulationFailure, 0},
                  {"cmpxchg16b", "cx16", ProbeOutcome::kEmulationFailure, 0},
                  {"clac", "smap", ProbeOutcome::kFaults, 6},
                  {"popcnt", "popcnt", ProbeOutcome::kWorks, 0},
                  {"rdpid", "rdpid", ProbeOutcome::kNotOffered, 0}};
  h.host_forced_cpuid = {"pni", "xsave", "smap"};
  return h;
}

class TraceBuilder {
 public:
  using Message = capnp::MallocMessageBuilder;
  using Fill = std::function<void(schema::TraceRecord::Builder)>;
  struct Piece {
    enum Kind { kRecord, kRaw, kIndex, kTrailer } kind = kRaw;
    std::shared_ptr<Message> msg;  // kRecord
    std::vector<uint8_t> raw;      // kRaw: bytes as they are
  };

  // Any record: `fill` sets a fresh TraceRecord.
  TraceBuilder& record(const Fill& fill) {
    auto m = std::make_shared<Message>();
    fill(m->initRoot<schema::TraceRecord>());
    pieces_.push_back({Piece::kRecord, std::move(m), {}});
    return *this;
  }
  TraceBuilder& header(const HeaderInfo& h = test_header()) {
    return record([&](schema::TraceRecord::Builder r) { build_header(h, r.initHeader()); });
  }
  // One blob record as given: nothing has to agree with anything.
  TraceBuilder& blob_part(std::string_view hash, std::string_view role, uint32_t part,
                          uint32_t parts, uint64_t size, std::span<const uint8_t> data) {
    return record([&](schema::TraceRecord::Builder r) {
      auto b = r.initBlob();
      b.setHash(std::string(hash));
      b.setRole(std::string(role));
      b.setPart(part);
      b.setParts(parts);
      b.setSize(size);
      b.setData(kj::arrayPtr(data.data(), data.size()));
    });
  }
  // A sound blob: its content hash, parts of `part_bytes` as the writer splits.
  TraceBuilder& blob(std::string_view role, std::span<const uint8_t> bytes,
                     size_t part_bytes = size_t{4} << 20) {
    std::string hash = content_hash(bytes);
    auto parts =
        static_cast<uint32_t>(std::max<size_t>(1, (bytes.size() + part_bytes - 1) / part_bytes));
    for (uint32_t p = 0; p < parts; ++p) {
      size_t from = size_t{p} * part_bytes, len = std::min(part_bytes, bytes.size() - from);
      blob_part(hash, role, p, parts, bytes.size(), bytes.subspan(from, len));
    }
    return *this;
  }
  // A chunk of these events, encoded as the writer does (any ordinals,
  // kinds and values).
  TraceBuilder& chunk(const std::vector<Item>& events) {
    return record([&](schema::TraceRecord::Builder r) {
      ChunkEncoder enc;
      encode_items(enc, events);
      enc.finish(r.initChunk());
    });
  }
  // An index of the chunks and blobs before it, with their real offsets
  // (worked out by bytes()).
  TraceBuilder& index() {
    pieces_.push_back({Piece::kIndex, nullptr, {}});
    return *this;
  }
  TraceBuilder& index(const IndexInfo& index) {
    return record([&](schema::TraceRecord::Builder r) { build_index(index, r.initIndex()); });
  }
  TraceBuilder& footer(const FooterInfo& f) {
    return record([&](schema::TraceRecord::Builder r) { build_footer(f, r.initFooter()); });
  }
  // The skippable frame pointing at the last index before it.
  TraceBuilder& trailer() {
    pieces_.push_back({Piece::kTrailer, nullptr, {}});
    return *this;
  }
  TraceBuilder& raw(std::vector<uint8_t> bytes) {
    pieces_.push_back({Piece::kRaw, nullptr, std::move(bytes)});
    return *this;
  }

  std::vector<Piece>& pieces() { return pieces_; }
  const std::vector<Piece>& pieces() const { return pieces_; }

  std::vector<uint8_t> bytes(int level = 1) const {
    Assembly a;
    for (const Piece& p : pieces_) a.add(p, level);
    return std::move(a.out);
  }

  // A trace's frames as pieces: records decoded (a record that does not
  // decode stays raw bytes), the trailer as kTrailer.
  static TraceBuilder parse(std::span<const uint8_t> trace) {
    TraceBuilder t;
    ByteSource src(std::vector<uint8_t>(trace.begin(), trace.end()));
    uint64_t off = 0;
    for (;;) {
      Frame f = read_frame(src, off);
      if (f.kind == Frame::kEnd) break;
      if (f.kind != Frame::kRecord && f.kind != Frame::kSkippable) {
        t.raw(src.read(off, static_cast<size_t>(src.size() - off)));
        break;
      }
      t.pieces_.push_back(parse_piece(src, f));
      off += f.size;
    }
    return t;
  }

 private:
  static Piece parse_piece(const ByteSource& src, const Frame& f) {
    std::vector<uint8_t> whole = src.read(f.offset, static_cast<size_t>(f.size));
    if (f.kind == Frame::kSkippable) {
      bool trailer = false;
      try {
        trailer = f.offset + f.size == src.size() && f.size == kTrailerSize &&
                  parse_trailer(whole, src.size()).has_value();
      } catch (const TraceError&) {
        // A damaged trailer stays as it is.
      }
      return trailer ? Piece{Piece::kTrailer, nullptr, {}} : Piece{Piece::kRaw, nullptr, whole};
    }
    try {
      DCtx dctx(ZSTD_createDCtx());
      Record r(f.bytes, f.offset, dctx.get());
      auto m = std::make_shared<Message>();
      m->setRoot(r.root());
      return {Piece::kRecord, std::move(m), {}};
    } catch (const std::exception&) {
      return {Piece::kRaw, nullptr, whole};
    }
  }

  // bytes() in progress: frames so far, and what an index of them holds.
  struct Assembly {
    std::vector<uint8_t> out;
    IndexInfo index;
    std::optional<uint64_t> last_index;
    CCtx cctx{ZSTD_createCCtx()};

    void add(const Piece& p, int level) {
      uint64_t at = out.size();
      std::vector<uint8_t> frame;
      if (p.kind == Piece::kRaw) frame = p.raw;
      if (p.kind == Piece::kTrailer) frame = make_trailer(last_index.value_or(0));
      if (p.kind == Piece::kIndex) {
        Message m;
        index.counts_by_kind.resize(kEventKinds);
        build_index(index, m.initRoot<schema::TraceRecord>().initIndex());
        frame = record_frame(m, cctx.get(), level);
        last_index = at;
      }
      if (p.kind == Piece::kRecord) {
        frame = record_frame(*p.msg, cctx.get(), level);
        note(p.msg->getRoot<schema::TraceRecord>().asReader(), at, frame.size());
      }
      out.insert(out.end(), frame.begin(), frame.end());
    }
    // What an index() after this record lists for it.
    void note(schema::TraceRecord::Reader r, uint64_t at, uint64_t size) {
      if (r.isIndex()) last_index = at;
      if (r.isBlob()) {
        auto b = r.getBlob();
        index.blobs.push_back(
            {b.getHash(), b.getRole(), b.getPart(), b.getParts(), b.getSize(), at, size});
      }
      if (!r.isChunk()) return;
      auto c = r.getChunk();
      ChunkRef ref{c.getFirstOrdinal(), c.getFirstOrdinal(), at, size, c.getCount()};
      index.counts_by_kind.resize(kEventKinds);
      try {
        EventBatch batch;
        decode_chunk(c, at, batch);
        if (!batch.events.empty()) ref.last_ordinal = batch.events.back().ordinal;
        for (const Event& e : batch.events) ++index.counts_by_kind[size_t(e.kind)];
      } catch (const TraceError&) {
        // A hostile chunk: listed with what it declares.
      }
      index.chunks.push_back(ref);
    }
  };

  std::vector<Piece> pieces_;
};

// A chunk's events with their side data (TraceError when it does not decode).
inline std::vector<Item> items_of(schema::Chunk::Reader c) {
  EventBatch b;
  decode_chunk(c, 0, b);
  std::vector<Item> out;
  size_t lm = 0, pay = 0, txt = 0;
  for (const Event& e : b.events) {
    Item it{e, {}, {}};
    if (e.kind == EventKind::kLandmark) it.landmark = b.landmarks[lm++];
    if (kind_has_bytes(e.kind)) it.bytes = b.payloads[pay++];
    if (kind_has_text(e.kind)) it.bytes.assign(b.texts[txt].begin(), b.texts[txt].end()), ++txt;
    out.push_back(it);
  }
  return out;
}

// `trace` with its events as `edit` leaves them (re-encoded where the first
// chunk was, in chunks of the writer's size), a fresh index, and the footer
// as `edit_footer` leaves it: a recording with one lie in it.
inline std::vector<uint8_t> edit_events(std::span<const uint8_t> trace,
                                        const std::function<void(std::vector<Item>&)>& edit,
                                        const std::function<void(FooterInfo&)>& edit_footer = {}) {
  TraceBuilder t = TraceBuilder::parse(trace), out;
  std::vector<Item> items;
  std::optional<size_t> first_chunk;
  for (TraceBuilder::Piece& p : t.pieces()) {
    auto root = p.kind == TraceBuilder::Piece::kRecord
                    ? std::optional(p.msg->getRoot<schema::TraceRecord>().asReader())
                    : std::nullopt;
    if (root && root->isChunk()) {
      std::vector<Item> more = items_of(root->getChunk());
      items.insert(items.end(), more.begin(), more.end());
      if (!first_chunk) first_chunk = out.pieces().size();
      continue;
    }
    if (root && root->isIndex()) {
      out.index();
    } else if (root && root->isFooter() && edit_footer) {
      FooterInfo f = parse_footer(root->getFooter());
      edit_footer(f);
      out.footer(f);
    } else {
      out.pieces().push_back(p);
    }
  }
  edit(items);
  TraceBuilder chunks;
  for (size_t i = 0; i < items.size(); i += 32768)
    chunks.chunk(
        {items.begin() + long(i), items.begin() + long(std::min(items.size(), i + 32768))});
  auto& ps = out.pieces();
  ps.insert(ps.begin() + long(first_chunk.value_or(ps.size())), chunks.pieces().begin(),
            chunks.pieces().end());
  return out.bytes();
}

// `trace` with its header edited by `edit`; the index is rebuilt (the
// records after the header move).
inline std::vector<uint8_t> edit_header(std::span<const uint8_t> trace,
                                        const std::function<void(HeaderInfo&)>& edit) {
  TraceBuilder t = TraceBuilder::parse(trace);
  for (TraceBuilder::Piece& p : t.pieces()) {
    if (p.kind != TraceBuilder::Piece::kRecord) continue;
    auto root = p.msg->getRoot<schema::TraceRecord>().asReader();
    if (root.isIndex()) {
      p = {TraceBuilder::Piece::kIndex, nullptr, {}};
    } else if (root.isHeader()) {
      HeaderInfo h = parse_header(root.getHeader(), 0);
      edit(h);
      p = TraceBuilder().header(h).pieces().front();
    }
  }
  return t.bytes();
}

// A footer that agrees with `events` (counts, exits, and the end reason and
// status of their last guest-exit event).
inline FooterInfo footer_for(const std::vector<Item>& events) {
  FooterInfo f;
  f.counts_by_kind.assign(kEventKinds, 0);
  for (const Item& it : events) {
    ++f.counts_by_kind[size_t(it.event.kind)];
    ++f.total_events;
    f.exits = std::max(f.exits, it.event.ordinal);
    if (it.event.kind == EventKind::kGuestExit) {
      f.end_reason.assign(it.bytes.begin(), it.bytes.end());
      f.guest_status = static_cast<int32_t>(it.event.code());
    }
  }
  return f;
}

}  // namespace rrvm::trace::testing
