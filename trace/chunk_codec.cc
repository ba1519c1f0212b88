#include "trace/chunk_codec.h"

#include <cstring>
#include <unordered_map>

namespace rrvm::trace {

namespace {

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

uint64_t zigzag(uint64_t delta) {
  int64_t d = static_cast<int64_t>(delta);
  return (static_cast<uint64_t>(d) << 1) ^ static_cast<uint64_t>(d >> 63);
}
uint64_t unzigzag(uint64_t z) {
  return (z >> 1) ^ (~(z & 1) + 1);
}

bool has_payload(EventKind k) {
  return k == EventKind::kDmaWrite || k == EventKind::kPacket || k == EventKind::kConsoleInput;
}
bool has_text(EventKind k) {
  return k == EventKind::kGuestExit || k == EventKind::kNote;
}

// Previous values, reset per chunk so every chunk decodes on its own.
struct DeltaState {
  std::unordered_map<uint64_t, uint64_t> reads;  // (kind << 56) ^ address -> value
  uint64_t clock = 0;
  uint64_t& read(EventKind k, uint64_t addr) {
    return reads[(static_cast<uint64_t>(k) << 56) ^ addr];
  }
};

void encode_fields(const Event& e, DeltaState& st, std::vector<uint8_t>& f) {
  switch (e.kind) {
    case EventKind::kPortRead:
    case EventKind::kMmioRead: {
      put_varint(f, e.a);
      f.push_back(e.size);
      uint64_t& prev = st.read(e.kind, e.a);
      put_varint(f, zigzag(e.b - prev));
      prev = e.b;
      break;
    }
    case EventKind::kMsrRead:
      put_varint(f, e.a);
      put_varint(f, e.b);
      break;
    case EventKind::kDmaWrite:
      put_varint(f, e.a);
      break;
    case EventKind::kInterrupt:
      put_varint(f, e.a);
      f.push_back(e.flag);
      break;
    case EventKind::kClockRead:
      put_varint(f, e.a);
      put_varint(f, zigzag(e.b - st.clock));
      st.clock = e.b;
      break;
    case EventKind::kRegDigest:
    case EventKind::kMemDigest:
      for (int i = 0; i < 8; ++i) f.push_back(static_cast<uint8_t>(e.b >> (8 * i)));
      break;
    case EventKind::kGuestExit:
      put_varint(f, e.a);
      put_varint(f, e.b);
      break;
    default:
      break;
  }
}

// Bounds-checked reader over one Data field.
class Cursor {
 public:
  Cursor(capnp::Data::Reader d, uint64_t offset, const char* what)
      : p_(d.begin()), end_(d.end()), offset_(offset), what_(what) {}
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      v |= uint64_t{b & 0x7fu} << shift;
      if (!(b & 0x80)) return v;
    }
    throw TraceError(std::string("chunk ") + what_ + ": overlong number", offset_);
  }
  uint8_t byte() {
    if (p_ == end_) throw TraceError(std::string("chunk ") + what_ + " ends early", offset_);
    return *p_++;
  }
  bool done() const { return p_ == end_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t offset_;
  const char* what_;
};

void decode_fields(Event& e, DeltaState& st, Cursor& f) {
  switch (e.kind) {
    case EventKind::kPortRead:
    case EventKind::kMmioRead: {
      e.a = f.varint();
      e.size = f.byte();
      uint64_t& prev = st.read(e.kind, e.a);
      e.b = prev + unzigzag(f.varint());
      prev = e.b;
      break;
    }
    case EventKind::kMsrRead:
      e.a = f.varint();
      e.b = f.varint();
      break;
    case EventKind::kDmaWrite:
      e.a = f.varint();
      break;
    case EventKind::kInterrupt:
      e.a = f.varint();
      e.flag = f.byte();
      break;
    case EventKind::kClockRead:
      e.a = f.varint();
      e.b = st.clock + unzigzag(f.varint());
      st.clock = e.b;
      break;
    case EventKind::kRegDigest:
    case EventKind::kMemDigest:
      for (int i = 0; i < 8; ++i) e.b |= uint64_t{f.byte()} << (8 * i);
      break;
    case EventKind::kGuestExit:
      e.a = f.varint();
      e.b = f.varint();
      break;
    default:
      break;
  }
}

void encode_landmark(const LandmarkData& lm, schema::Landmark::Builder b) {
  b.setRip(lm.rip);
  auto g = b.initGprs(16);
  for (unsigned i = 0; i < 16; ++i) g.set(i, lm.gprs[i]);
  b.setRflags(lm.rflags);
  b.setMemDigest(lm.mem_digest);
  b.setCpl(lm.cpl);
}

LandmarkData decode_landmark(schema::Landmark::Reader r, uint64_t offset) {
  LandmarkData lm;
  auto gprs = r.getGprs();
  if (gprs.size() != 16) throw TraceError("landmark without 16 registers", offset);
  lm.rip = r.getRip();
  for (unsigned i = 0; i < 16; ++i) lm.gprs[i] = gprs[i];
  lm.rflags = r.getRflags();
  lm.mem_digest = r.getMemDigest();
  lm.cpl = r.getCpl();
  return lm;
}

}  // namespace

void encode_chunk(const EventBatch& batch, schema::Chunk::Builder out) {
  std::vector<uint8_t> kinds, ordinals, fields;
  kinds.reserve(batch.events.size());
  ordinals.reserve(batch.events.size());
  fields.reserve(batch.events.size() * 4);
  DeltaState st;
  uint64_t first = batch.events.empty() ? 0 : batch.events.front().ordinal, prev = first;
  for (const Event& e : batch.events) {
    kinds.push_back(static_cast<uint8_t>(e.kind));
    put_varint(ordinals, e.ordinal - prev);
    prev = e.ordinal;
    encode_fields(e, st, fields);
  }
  out.setFirstOrdinal(first);
  out.setCount(static_cast<uint32_t>(batch.events.size()));
  out.setKinds(kj::arrayPtr(kinds.data(), kinds.size()));
  out.setOrdinals(kj::arrayPtr(ordinals.data(), ordinals.size()));
  out.setFields(kj::arrayPtr(fields.data(), fields.size()));
  auto lms = out.initLandmarks(static_cast<unsigned>(batch.landmarks.size()));
  for (unsigned i = 0; i < batch.landmarks.size(); ++i) encode_landmark(batch.landmarks[i], lms[i]);
  auto pls = out.initPayloads(static_cast<unsigned>(batch.payloads.size()));
  for (unsigned i = 0; i < batch.payloads.size(); ++i) {
    pls.set(i, kj::arrayPtr(batch.payloads[i].data(), batch.payloads[i].size()));
  }
  auto txt = out.initTexts(static_cast<unsigned>(batch.texts.size()));
  for (unsigned i = 0; i < batch.texts.size(); ++i) txt.set(i, batch.texts[i]);
}

void decode_chunk(schema::Chunk::Reader in, uint64_t offset, EventBatch& out) {
  out.clear();
  auto kinds = in.getKinds();
  if (kinds.size() != in.getCount())
    throw TraceError("chunk event count does not match its kinds", offset);
  Cursor ord(in.getOrdinals(), offset, "ordinals"), fld(in.getFields(), offset, "fields");
  auto lms = in.getLandmarks();
  auto pls = in.getPayloads();
  auto txt = in.getTexts();
  size_t nl = 0, np = 0, nt = 0;
  DeltaState st;
  uint64_t ordinal = in.getFirstOrdinal();
  out.events.reserve(kinds.size());
  for (uint8_t k : kinds) {
    if (k >= kEventKinds) throw TraceError("unknown event kind " + std::to_string(k), offset);
    Event e;
    e.kind = static_cast<EventKind>(k);
    ordinal += ord.varint();
    e.ordinal = ordinal;
    decode_fields(e, st, fld);
    if (e.kind == EventKind::kLandmark) {
      if (nl >= lms.size()) throw TraceError("chunk lists fewer landmarks than it uses", offset);
      out.landmarks.push_back(decode_landmark(lms[static_cast<unsigned>(nl++)], offset));
    } else if (has_payload(e.kind)) {
      if (np >= pls.size()) throw TraceError("chunk lists fewer payloads than it uses", offset);
      auto d = pls[static_cast<unsigned>(np++)];
      out.payloads.emplace_back(d.begin(), d.end());
    } else if (has_text(e.kind)) {
      if (nt >= txt.size()) throw TraceError("chunk lists fewer texts than it uses", offset);
      out.texts.emplace_back(txt[static_cast<unsigned>(nt++)].cStr());
    }
    out.events.push_back(e);
  }
  if (!ord.done() || !fld.done()) throw TraceError("chunk has trailing bytes", offset);
}

}  // namespace rrvm::trace
