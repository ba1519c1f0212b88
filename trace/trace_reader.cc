#include "trace/trace_reader.h"

#include <algorithm>

namespace rrvm::trace {

namespace {

std::string cut_reason(uint64_t offset, uint64_t size, const std::string& why) {
  return "truncated at byte " + std::to_string(offset) + " of " + std::to_string(size) + " (" +
         why + "), without a footer";
}

// Checks an index against the file before anything trusts it.
void check_index(const IndexInfo& index, uint64_t header_end, uint64_t index_offset) {
  uint64_t prev_end = header_end, prev_first = 0;
  for (const ChunkRef& c : index.chunks) {
    if (c.offset < prev_end || c.frame_bytes == 0 || c.frame_bytes > index_offset - c.offset ||
        c.first_ordinal < prev_first || c.last_ordinal < c.first_ordinal || c.count == 0) {
      throw TraceError(
          "index entry for the chunk at byte " + std::to_string(c.offset) + " is inconsistent",
          index_offset);
    }
    prev_end = c.offset + c.frame_bytes;
    prev_first = c.first_ordinal;
  }
  for (const BlobRef& b : index.blobs) {
    if (b.offset < header_end || b.frame_bytes > index_offset - b.offset)
      throw TraceError("index entry for blob " + b.hash + " is out of range", index_offset);
  }
}

}  // namespace

TraceReader::TraceReader(const std::string& path) : TraceReader(ByteSource::open_file(path)) {}

TraceReader::TraceReader(std::vector<uint8_t> bytes) : TraceReader(ByteSource(std::move(bytes))) {}

TraceReader::TraceReader(ByteSource src) : src_(std::move(src)), dctx_(ZSTD_createDCtx()) {
  status_.file_bytes = src_.size();
  open();
}

TraceReader::~TraceReader() = default;

// Header first; then the index when the trailer points to a sound one, else
// a scan of every frame.
void TraceReader::open() {
  read_header();
  std::optional<uint64_t> index_offset;
  if (src_.size() >= header_end_ + kTrailerSize) {
    index_offset = parse_trailer(src_.read(src_.size() - kTrailerSize, kTrailerSize), src_.size());
  }
  if (index_offset && *index_offset >= header_end_) {
    try {
      if (load_index(*index_offset)) return;
    } catch (const TraceError&) {
      // The scan names the damaged frame; if it finds none, the index
      // itself is wrong.
      scan(true);
      throw;
    }
  }
  scan(index_offset.has_value());
}

Frame TraceReader::frame_at(uint64_t offset, const char* what) {
  Frame f = read_frame(src_, offset, has_index_);
  if (f.kind != Frame::kRecord)
    throw TraceError(
        std::string("no ") + what + " record here" + (f.why.empty() ? "" : ": " + f.why), offset);
  return f;
}

void TraceReader::read_header() {
  Frame f = read_frame(src_, 0);
  if (f.kind == Frame::kEnd) throw TraceError("empty file, not an rrvm trace", 0);
  if (f.kind != Frame::kRecord) throw TraceError("not an rrvm trace: " + f.why, 0);
  Record r(f.bytes, 0, dctx_.get());
  if (r.which() != schema::TraceRecord::HEADER)
    throw TraceError("not an rrvm trace: the first record is not a header", 0);
  header_ = guarded(0, "header", [&] { return parse_header(r.root().getHeader(), 0); });
  header_end_ = f.size;
  status_.valid_bytes = f.size;
}

// Index and footer as the trailer says; false when they are not where it
// points (then the trace is scanned). Throws TraceError for a damaged one.
bool TraceReader::load_index(uint64_t index_offset) {
  uint64_t trailer_at = src_.size() - kTrailerSize;
  Frame fi = read_frame(src_, index_offset, true);
  if (fi.kind != Frame::kRecord) return false;
  Frame ff = read_frame(src_, index_offset + fi.size, true);
  if (ff.kind != Frame::kRecord || index_offset + fi.size + ff.size != trailer_at) return false;
  Record ri(fi.bytes, index_offset, dctx_.get());
  Record rf(ff.bytes, ff.offset, dctx_.get());
  if (ri.which() != schema::TraceRecord::INDEX || rf.which() != schema::TraceRecord::FOOTER)
    return false;
  IndexInfo index =
      guarded(index_offset, "index", [&] { return parse_index(ri.root().getIndex()); });
  check_index(index, header_end_, index_offset);
  footer_ = guarded(ff.offset, "footer", [&] { return parse_footer(rf.root().getFooter()); });
  chunks_ = std::move(index.chunks);
  for (BlobRef& b : index.blobs) blobs_[b.hash].push_back(std::move(b));
  index_counts_ = std::move(index.counts_by_kind);
  has_index_ = true;
  status_ = {true, src_.size(), src_.size(), ""};
  return true;
}

// Walks every frame after the header: chunk positions, blobs, index and
// footer, and where the trace stops. With `end_is_known` (there is a
// trailer), running out of bytes is damage rather than a cut.
void TraceReader::scan(bool end_is_known) {
  uint64_t off = header_end_;
  for (;;) {
    Frame f = read_frame(src_, off, end_is_known);
    if (f.kind == Frame::kEnd) break;
    if (f.kind == Frame::kCorrupt) throw TraceError("corrupt trace: " + f.why, off);
    if (f.kind == Frame::kTruncated) {
      status_.reason = cut_reason(off, src_.size(), f.why);
      break;
    }
    if (f.kind == Frame::kRecord) scan_record(Record(f.bytes, off, dctx_.get()), off, f.size);
    off += f.size;
    status_.valid_bytes = off;
  }
  status_.complete = footer_.has_value() && status_.reason.empty();
  if (!footer_ && status_.reason.empty())
    status_.reason = cut_reason(off, src_.size(), "the file ends after a whole frame");
}

void TraceReader::scan_record(const Record& r, uint64_t offset, uint64_t size) {
  guarded(offset, "record", [&] {
    switch (r.which()) {
      case schema::TraceRecord::HEADER:
        throw TraceError("a second header record", offset);
      case schema::TraceRecord::BLOB: {
        BlobRef b = parse_blob(r.root().getBlob(), offset, size);
        blobs_[b.hash].push_back(std::move(b));
        break;
      }
      case schema::TraceRecord::CHUNK: {
        auto c = r.root().getChunk();
        chunks_.push_back({c.getFirstOrdinal(), c.getFirstOrdinal(), offset, size, c.getCount()});
        break;
      }
      case schema::TraceRecord::INDEX:
        index_counts_ = parse_index(r.root().getIndex()).counts_by_kind;
        break;
      case schema::TraceRecord::FOOTER:
        footer_ = parse_footer(r.root().getFooter());
        break;
      default:
        break;  // a record kind of a newer minor version: skip it
    }
  });
}

uint64_t TraceReader::chunk_bytes() const {
  uint64_t n = 0;
  for (const ChunkRef& c : chunks_) n += c.frame_bytes;
  return n;
}

void TraceReader::load_chunk(size_t i) {
  const ChunkRef& c = chunks_[i];
  Frame f = frame_at(c.offset, "chunk");
  if (f.size != c.frame_bytes)
    throw TraceError("chunk frame size differs from the index", c.offset);
  Record r(f.bytes, c.offset, dctx_.get());
  if (r.which() != schema::TraceRecord::CHUNK)
    throw TraceError("the index points at a record that is not a chunk", c.offset);
  guarded(c.offset, "chunk", [&] { decode_chunk(r.root().getChunk(), c.offset, batch_); });
  if (batch_.events.empty() || batch_.events.front().ordinal != c.first_ordinal ||
      batch_.events.size() != c.count) {
    throw TraceError("chunk differs from its index entry", c.offset);
  }
  pos_ = landmark_ = payload_ = text_ = 0;
}

bool TraceReader::next(ReadEvent& out) {
  for (;;) {
    while (pos_ >= batch_.events.size()) {
      if (next_chunk_ >= chunks_.size()) return false;
      load_chunk(next_chunk_++);
    }
    out = ReadEvent{};
    out.event = batch_.events[pos_++];
    EventKind k = out.event.kind;
    if (k == EventKind::kLandmark) out.landmark = &batch_.landmarks[landmark_++];
    if (kind_has_bytes(k)) out.payload = &batch_.payloads[payload_++];
    if (kind_has_text(k)) out.text = &batch_.texts[text_++];
    if (skip_below_ && out.event.ordinal < *skip_below_) continue;
    skip_below_.reset();
    return true;
  }
}

void TraceReader::seek(uint64_t ordinal) {
  // The chunk before the first one that starts at or after `ordinal` may
  // still hold events at `ordinal`; next() skips the earlier ones.
  auto it = std::partition_point(chunks_.begin(), chunks_.end(),
                                 [&](const ChunkRef& c) { return c.first_ordinal < ordinal; });
  next_chunk_ = it == chunks_.begin() ? 0 : static_cast<size_t>(it - chunks_.begin()) - 1;
  batch_.clear();
  pos_ = landmark_ = payload_ = text_ = 0;
  skip_below_ = ordinal;
}

std::vector<BlobInfo> TraceReader::blobs() const {
  std::vector<BlobInfo> out;
  for (const auto& [hash, parts] : blobs_) {
    uint64_t stored = 0;
    for (const BlobRef& p : parts) stored += p.frame_bytes;
    out.push_back({hash, parts.front().role, parts.front().size, parts.front().parts, stored});
  }
  return out;
}

std::vector<uint8_t> TraceReader::blob(const std::string& prefix) {
  const std::vector<BlobRef>* found = nullptr;
  for (const auto& [hash, parts] : blobs_) {
    if (hash.compare(0, prefix.size(), prefix) != 0) continue;
    if (found) throw TraceError("blob hash prefix '" + prefix + "' is ambiguous", 0);
    found = &parts;
  }
  if (!found) throw TraceError("no blob with hash '" + prefix + "' in this trace", 0);
  const BlobRef& first = found->front();
  std::vector<uint8_t> out;
  for (uint32_t p = 0; p < first.parts; ++p) {
    auto part = std::find_if(found->begin(), found->end(), [&](const BlobRef& b) {
      return b.part == p && b.parts == first.parts && b.size == first.size;
    });
    if (part == found->end())
      throw TraceError("blob " + first.hash + " lacks part " + std::to_string(p), first.offset);
    Frame f = frame_at(part->offset, "blob");
    Record r(f.bytes, part->offset, dctx_.get());
    if (r.which() != schema::TraceRecord::BLOB)
      throw TraceError("the index points at a record that is not a blob", part->offset);
    guarded(part->offset, "blob", [&] {
      auto b = r.root().getBlob();
      if (b.getHash() != first.hash || b.getPart() != p)
        throw TraceError("the index points at the wrong blob record", part->offset);
      auto data = b.getData();  // once: every read counts against the traversal limit
      if (data.size() > first.size - out.size())
        throw TraceError("blob " + first.hash + " is longer than its size", part->offset);
      out.insert(out.end(), data.begin(), data.end());
    });
  }
  if (out.size() != first.size || (first.hash.size() == 32 && content_hash(out) != first.hash))
    throw TraceError("blob " + first.hash + " does not match its size or hash", first.offset);
  return out;
}

}  // namespace rrvm::trace
