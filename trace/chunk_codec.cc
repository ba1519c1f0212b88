#include "trace/chunk_codec.h"

#include <bit>
#include <cstring>

#include "trace/varint.h"

namespace rrvm::trace {

namespace {

constexpr uint8_t kKindMask = 0x3f;
constexpr uint8_t kReservedBit = 0x40;
constexpr uint8_t kFlagBit = 0x80;

uint8_t kind_byte(const Event& e) {
  bool flag = e.flag != 0 && kind_has_flag(e.kind);
  return static_cast<uint8_t>(static_cast<uint8_t>(e.kind) | (flag ? kFlagBit : 0));
}

template <typename Io>
void code_field(Io& io, Coding coding, EventKind kind, uint64_t key, uint64_t& v) {
  switch (coding) {
    case Coding::kNone:
      break;
    case Coding::kVarint:
      io.arg(v);
      break;
    case Coding::kZigzag:
      io.signed_arg(v);
      break;
    case Coding::kDelta:
      io.delta(kind, key, v);
      break;
    case Coding::kRaw64:
      io.raw64(v);
      break;
  }
}

// Every kind's fields as its row in kKindLayouts (trace/event.h) lays them
// out, used in both directions. `Io` is Writer or Reader below.
template <typename Io>
void code_fields(Io& io, Event& e) {
  const KindLayout& k = kind_layout(e.kind);
  code_field(io, k.a.coding, e.kind, 0, e.a);
  if (k.sized) io.arg_byte(e.size);
  bool modelled = k.flag == FlagUse::kModelled && e.flag;  // replay recomputes the value
  if (!modelled) code_field(io, k.b.coding, e.kind, e.a, e.b);
  if (k.side == SideData::kLandmark) io.landmark();
  if (k.side == SideData::kBytes || k.side == SideData::kText) io.side();
}

struct Writer {
  std::vector<uint8_t>& args;
  std::vector<uint8_t>& values;
  std::vector<uint8_t>& payloads;
  DeltaState& state;
  std::span<const uint8_t> side_bytes;
  bool wants_landmark = false;

  void arg(uint64_t v) { put_varint(args, v); }
  void signed_arg(uint64_t v) { put_varint(args, zigzag(v)); }
  void arg_byte(uint8_t b) { args.push_back(b); }
  void delta(EventKind k, uint64_t key, uint64_t v) {
    uint64_t& prev = state.prev(k, key);
    put_varint(values, zigzag(v - prev));
    prev = v;
  }
  void raw64(uint64_t v) { put_u64le(values, v); }
  void side() {
    put_varint(args, side_bytes.size());
    payloads.insert(payloads.end(), side_bytes.begin(), side_bytes.end());
  }
  void landmark() { wants_landmark = true; }
};

struct Reader {
  Cursor args, values, payloads;
  DeltaState& state;
  std::span<const uint8_t> side_bytes;
  bool wants_landmark = false;

  void arg(uint64_t& v) { v = args.varint(); }
  void signed_arg(uint64_t& v) { v = unzigzag(args.varint()); }
  void arg_byte(uint8_t& b) { b = args.byte(); }
  void delta(EventKind k, uint64_t key, uint64_t& v) {
    uint64_t& prev = state.prev(k, key);
    v = prev + unzigzag(values.varint());
    prev = v;
  }
  void raw64(uint64_t& v) { v = values.u64le(); }
  void side() { side_bytes = payloads.bytes(args.varint()); }
  void landmark() { wants_landmark = true; }
};

void encode_landmark(const LandmarkData& lm, schema::Landmark::Builder b) {
  b.setRip(lm.rip);
  auto g = b.initGprs(16);
  for (unsigned i = 0; i < 16; ++i) g.set(i, lm.gprs[i]);
  b.setRflags(lm.rflags);
  b.setMemDigest(lm.mem_digest);
  b.setHits(lm.hits);
  b.setCpl(lm.cpl);
}

LandmarkData decode_landmark(schema::Landmark::Reader r, uint64_t offset) {
  auto gprs = r.getGprs();
  if (gprs.size() != 16) throw TraceError("landmark without 16 registers", offset);
  LandmarkData lm;
  lm.rip = r.getRip();
  for (unsigned i = 0; i < 16; ++i) lm.gprs[i] = gprs[i];
  lm.rflags = r.getRflags();
  lm.mem_digest = r.getMemDigest();
  lm.hits = r.getHits();
  lm.cpl = r.getCpl();
  return lm;
}

std::span<const uint8_t> bytes_of(capnp::Data::Reader d) {
  return {d.begin(), d.size()};
}

// One event's kind byte, checked.
Event start_event(uint8_t byte, uint64_t ordinal, uint64_t offset) {
  auto kind = static_cast<EventKind>(byte & kKindMask);
  if ((byte & kKindMask) >= kEventKinds)
    throw TraceError("unknown event kind " + std::to_string(byte & kKindMask), offset);
  if ((byte & kReservedBit) || ((byte & kFlagBit) && !kind_has_flag(kind)))
    throw TraceError("reserved bits set in an event kind", offset);
  Event e;
  e.kind = kind;
  e.flag = (byte & kFlagBit) ? 1 : 0;
  e.ordinal = ordinal;
  return e;
}

}  // namespace

uint64_t& DeltaState::prev(EventKind kind, uint64_t key) {
  auto k = static_cast<uint8_t>(kind);
  size_t mask = slots_.size() - 1;
  int shift = 64 - std::countr_zero(slots_.size());  // the product's top bits (Fibonacci hashing)
  size_t i = static_cast<size_t>(((key ^ (uint64_t{k} << 59)) * 0x9E3779B97F4A7C15ull) >> shift);
  for (;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.used && s.key == key && s.kind == k) return s.value;
    if (!s.used) break;
  }
  if (2 * (used_ + 1) > slots_.size()) {
    grow();
    return prev(kind, key);
  }
  slots_[i] = Slot{key, 0, k, true};
  ++used_;
  return slots_[i].value;
}

void DeltaState::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{});
  used_ = 0;
  for (const Slot& s : old) {
    if (s.used) prev(static_cast<EventKind>(s.kind), s.key) = s.value;
  }
}

void DeltaState::clear() {
  if (used_ == 0) return;
  if (slots_.size() > 1024)
    slots_.assign(64, Slot{});
  else
    std::fill(slots_.begin(), slots_.end(), Slot{});
  used_ = 0;
}

void ChunkEncoder::clear() {
  for (auto* col : {&kinds_, &ordinals_, &args_, &values_, &payloads_}) col->clear();
  landmarks_.clear();
  std::fill(counts_.begin(), counts_.end(), 0);
  delta_.clear();
  first_ = last_ = 0;
}

void ChunkEncoder::start(const Event& e) {
  if (kinds_.empty()) first_ = last_ = e.ordinal;
  kinds_.push_back(kind_byte(e));
  put_varint(ordinals_, e.ordinal - last_);
  last_ = e.ordinal;
  ++counts_[static_cast<size_t>(e.kind) % kEventKinds];
}

void ChunkEncoder::encode_fields(const Event& e, std::span<const uint8_t> side) {
  Writer w{args_, values_, payloads_, delta_, side};
  Event copy = e;
  copy.flag = (kind_byte(e) & kFlagBit) ? 1 : 0;
  code_fields(w, copy);
}

void ChunkEncoder::add(const Event& e, std::span<const uint8_t> side) {
  if (e.kind == EventKind::kLandmark) {
    LandmarkData lm;
    if (side.size() == sizeof lm) std::memcpy(&lm, side.data(), sizeof lm);
    add_landmark(e, lm);
    return;
  }
  start(e);
  encode_fields(e, side);
}

void ChunkEncoder::add_landmark(const Event& e, const LandmarkData& lm) {
  Event l = Event::landmark(e.ordinal);
  start(l);
  landmarks_.push_back(lm);
}

void ChunkEncoder::finish(schema::Chunk::Builder out) const {
  auto data = [](const std::vector<uint8_t>& v) { return kj::arrayPtr(v.data(), v.size()); };
  out.setFirstOrdinal(first_);
  out.setCount(static_cast<uint32_t>(kinds_.size()));
  out.setKinds(data(kinds_));
  out.setOrdinals(data(ordinals_));
  out.setArgs(data(args_));
  out.setValues(data(values_));
  out.setPayloads(data(payloads_));
  auto lms = out.initLandmarks(static_cast<unsigned>(landmarks_.size()));
  for (unsigned i = 0; i < lms.size(); ++i) encode_landmark(landmarks_[i], lms[i]);
}

void decode_chunk(schema::Chunk::Reader in, uint64_t offset, EventBatch& out) {
  out.clear();
  if (in.getCount() > kMaxChunkEvents)
    throw TraceError("chunk declares " + std::to_string(in.getCount()) + " events, more than " +
                         std::to_string(kMaxChunkEvents) + " (the writer's limit)",
                     offset);
  auto kinds = bytes_of(in.getKinds());
  if (kinds.size() != in.getCount())
    throw TraceError("chunk event count does not match its kinds column", offset);
  DeltaState delta;
  Reader r{Cursor(bytes_of(in.getArgs()), offset, "args"),
           Cursor(bytes_of(in.getValues()), offset, "values"),
           Cursor(bytes_of(in.getPayloads()), offset, "payloads"),
           delta,
           {}};
  Cursor ordinals(bytes_of(in.getOrdinals()), offset, "ordinals");
  auto landmarks = in.getLandmarks();
  uint64_t ordinal = in.getFirstOrdinal();
  out.events.reserve(kinds.size());
  for (uint8_t byte : kinds) {
    ordinal += ordinals.varint();
    Event e = start_event(byte, ordinal, offset);
    r.wants_landmark = false;
    code_fields(r, e);
    if (r.wants_landmark) {
      if (out.landmarks.size() >= landmarks.size())
        throw TraceError("chunk has fewer landmarks than landmark events", offset);
      out.landmarks.push_back(
          decode_landmark(landmarks[static_cast<unsigned>(out.landmarks.size())], offset));
    } else if (kind_has_bytes(e.kind)) {
      out.payloads.emplace_back(r.side_bytes.begin(), r.side_bytes.end());
    } else if (kind_has_text(e.kind)) {
      out.texts.emplace_back(r.side_bytes.begin(), r.side_bytes.end());
    }
    out.events.push_back(e);
  }
  if (!ordinals.done() || !r.args.done() || !r.values.done() || !r.payloads.done() ||
      out.landmarks.size() != landmarks.size()) {
    throw TraceError("chunk has data beyond its events", offset);
  }
}

}  // namespace rrvm::trace
