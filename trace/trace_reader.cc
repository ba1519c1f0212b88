#include "trace/trace_reader.h"

#include <capnp/serialize.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "trace/frame_io.h"

namespace rrvm::trace {

namespace {

// The message inside one frame, with limits derived from its real size.
struct Record {
  Record(std::vector<capnp::word> w, uint64_t offset) : words(std::move(w)) {
    capnp::ReaderOptions opts;
    // Bounded by the frame's real size, with room for the reader's repeated
    // visits of small lists.
    opts.traversalLimitInWords = words.size() * 8 + 1024;
    opts.nestingLimit = 16;
    try {
      reader.emplace(kj::arrayPtr(words.data(), words.size()), opts);
      root = reader->getRoot<schema::TraceRecord>();
      which = root.which();
    } catch (const kj::Exception& e) {
      throw TraceError(std::string("malformed record: ") + e.getDescription().cStr(), offset);
    }
  }
  std::vector<capnp::word> words;
  std::optional<capnp::FlatArrayMessageReader> reader;
  schema::TraceRecord::Reader root;
  schema::TraceRecord::Which which;
};

HeaderInfo parse_header(schema::Header::Reader h, uint64_t offset) {
  HeaderInfo out;
  out.format_major = h.getFormatMajor();
  out.format_minor = h.getFormatMinor();
  out.required_forward_compat = h.getRequiredForwardCompat();
  if (out.format_major != kFormatMajor || out.required_forward_compat > kForwardCompat) {
    throw TraceError("trace format " + std::to_string(out.format_major) + "." +
                         std::to_string(out.format_minor) + " (needs reader level " +
                         std::to_string(out.required_forward_compat) +
                         ") is not supported by this rrvm, which reads " +
                         std::to_string(kFormatMajor) + ".x; use a newer rrvm",
                     offset);
  }
  out.rrvm_version = h.getRrvmVersion();
  out.created_unix_seconds = h.getCreatedUnixSeconds();
  out.clock_mode = h.getClockMode();
  out.host_kernel = h.getHost().getKernel();
  out.host_cpu = h.getHost().getCpuModel();
  for (auto c : h.getHost().getKvmCapabilities()) out.kvm_capabilities.emplace_back(c.cStr());
  for (auto kv : h.getConfig()) out.config.emplace_back(kv.getKey().cStr(), kv.getValue().cStr());
  for (auto l : h.getCpuid()) {
    out.cpuid.push_back({l.getFunction(), l.getIndex(), l.getFlags(), l.getEax(), l.getEbx(),
                         l.getEcx(), l.getEdx()});
  }
  for (auto i : h.getImages()) {
    out.images.push_back({i.getRole(), i.getName(), i.getHash(), i.getSize()});
  }
  return out;
}

FooterInfo parse_footer(schema::Footer::Reader f) {
  FooterInfo out;
  out.total_events = f.getTotalEvents();
  out.exits = f.getExits();
  out.final_reg_digest = f.getFinalRegDigest();
  out.final_mem_digest = f.getFinalMemDigest();
  out.end_reason = f.getEndReason();
  out.guest_status = f.getGuestStatus();
  return out;
}

}  // namespace

TraceReader::TraceReader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceMissing("cannot read " + path + ": " + std::strerror(errno));
  file_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  scan();
}

TraceReader::TraceReader(std::vector<uint8_t> bytes) : file_(std::move(bytes)) {
  scan();
}

TraceReader::~TraceReader() = default;

// Walks the frames once: header, blobs, chunk positions, index, footer.
// Chunks are decompressed (and checksummed) only when read.
void TraceReader::scan() {
  uint64_t off = 0;
  while (off < file_.size()) {
    std::span<const uint8_t> rest(file_.data() + off, file_.size() - off);
    FrameInfo f = scan_frame(rest);
    if (f.kind == FrameInfo::kCorrupt) throw TraceError("corrupt trace: " + f.why, off);
    if (f.kind == FrameInfo::kTruncated) {
      truncation_ = "truncated at byte " + std::to_string(off) + " of " +
                    std::to_string(file_.size()) + " (" + f.why + "), no footer";
      break;
    }
    if (f.kind == FrameInfo::kRecord) handle_record(off, f.size);
    off += f.size;
    valid_bytes_ = off;
  }
  if (!have_header_) throw TraceError("not an rrvm trace: no header record", 0);
  if (!footer_ && truncation_.empty()) {
    truncation_ = "ends at byte " + std::to_string(valid_bytes_) +
                  " without a footer (the recording was cut off)";
  }
}

void TraceReader::handle_record(uint64_t offset, uint64_t size) {
  std::span<const uint8_t> frame(file_.data() + offset, size);
  if (!have_header_) {
    Record r(decompress_frame(frame, offset, dctx_.get()), offset);
    if (r.which != schema::TraceRecord::HEADER)
      throw TraceError("not an rrvm trace: first record is not a header", offset);
    header_ = parse_header(r.root.getHeader(), offset);
    have_header_ = true;
    return;
  }
  Record r(decompress_frame(frame, offset, dctx_.get()), offset);
  switch (r.which) {
    case schema::TraceRecord::BLOB: {
      auto b = r.root.getBlob();
      blobs_[b.getHash()].push_back({b.getRole(), b.getPart(), b.getParts(), offset, size});
      break;
    }
    case schema::TraceRecord::CHUNK:
      chunks_.push_back({offset, size, r.root.getChunk().getFirstOrdinal()});
      break;
    case schema::TraceRecord::INDEX:
      index_counts_.clear();
      for (uint64_t c : r.root.getIndex().getCountsByKind()) index_counts_.push_back(c);
      break;
    case schema::TraceRecord::FOOTER:
      footer_ = parse_footer(r.root.getFooter());
      break;
    default:
      break;  // a newer minor version's record kind: skip
  }
}

void TraceReader::load_chunk(size_t i) {
  const ChunkPos& c = chunks_[i];
  Record r(decompress_frame({file_.data() + c.offset, c.size}, c.offset, dctx_.get()), c.offset);
  try {
    decode_chunk(r.root.getChunk(), c.offset, batch_);
  } catch (const kj::Exception& e) {
    throw TraceError(std::string("malformed chunk: ") + e.getDescription().cStr(), c.offset);
  }
  pos_ = landmark_ = payload_ = text_ = 0;
}

bool TraceReader::next(ReadEvent& out) {
  while (pos_ >= batch_.events.size()) {
    if (next_chunk_ >= chunks_.size()) return false;
    load_chunk(next_chunk_++);
  }
  out = ReadEvent{};
  out.event = batch_.events[pos_++];
  switch (out.event.kind) {
    case EventKind::kLandmark:
      out.landmark = &batch_.landmarks[landmark_++];
      break;
    case EventKind::kDmaWrite:
    case EventKind::kPacket:
    case EventKind::kConsoleInput:
      out.payload = &batch_.payloads[payload_++];
      break;
    case EventKind::kGuestExit:
    case EventKind::kNote:
      out.text = &batch_.texts[text_++];
      break;
    default:
      break;
  }
  return true;
}

void TraceReader::seek(uint64_t ordinal) {
  // The last chunk that starts at or before `ordinal`, then skip within it.
  size_t i = 0;
  while (i + 1 < chunks_.size() && chunks_[i + 1].first_ordinal <= ordinal) ++i;
  batch_.clear();
  pos_ = 0;
  next_chunk_ = i;
  if (chunks_.empty()) return;
  load_chunk(next_chunk_++);
  while (pos_ < batch_.events.size() && batch_.events[pos_].ordinal < ordinal) {
    switch (batch_.events[pos_].kind) {
      case EventKind::kLandmark:
        ++landmark_;
        break;
      case EventKind::kDmaWrite:
      case EventKind::kPacket:
      case EventKind::kConsoleInput:
        ++payload_;
        break;
      case EventKind::kGuestExit:
      case EventKind::kNote:
        ++text_;
        break;
      default:
        break;
    }
    ++pos_;
  }
}

std::vector<std::pair<std::string, std::string>> TraceReader::blobs() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [hash, parts] : blobs_) out.emplace_back(hash, parts.front().role);
  return out;
}

std::vector<uint8_t> TraceReader::blob(const std::string& prefix) {
  const std::vector<BlobPart>* found = nullptr;
  for (const auto& [hash, parts] : blobs_) {
    if (hash.rfind(prefix, 0) != 0) continue;
    if (found) throw TraceError("blob hash prefix '" + prefix + "' is ambiguous", 0);
    found = &parts;
  }
  if (!found) throw TraceError("no blob with hash " + prefix + " in this trace", 0);
  uint32_t parts = found->front().parts;
  std::vector<uint8_t> out;
  for (uint32_t p = 0; p < parts; ++p) {
    const BlobPart* part = nullptr;
    for (const auto& bp : *found) {
      if (bp.part == p) part = &bp;
    }
    if (!part)
      throw TraceError("blob " + prefix + " is missing part " + std::to_string(p), valid_bytes_);
    Record r(decompress_frame({file_.data() + part->offset, part->size}, part->offset, dctx_.get()),
             part->offset);
    auto d = r.root.getBlob().getData();
    out.insert(out.end(), d.begin(), d.end());
  }
  return out;
}

}  // namespace rrvm::trace
