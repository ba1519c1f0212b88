#include "trace/trace_reader.h"

#include <algorithm>
#include <set>

namespace rrvm::trace {

namespace {

constexpr size_t kMaxLayoutProblems = 16;

std::string cut_reason(uint64_t offset, uint64_t size, const std::string& why) {
  return "truncated at byte " + std::to_string(offset) + " of " + std::to_string(size) + " (" +
         why + "), without a footer";
}

const char* record_name(schema::TraceRecord::Which w) {
  switch (w) {
    case schema::TraceRecord::HEADER:
      return "header";
    case schema::TraceRecord::BLOB:
      return "blob";
    case schema::TraceRecord::CHUNK:
      return "chunk";
    case schema::TraceRecord::INDEX:
      return "index";
    case schema::TraceRecord::FOOTER:
      return "footer";
  }
  return "unknown";
}

// Frames listed by an index must lie between the header and the index and
// never overlap: then there are never more entries than the file has room
// for frames, whatever the (well compressed) index declares.
void check_ranges(std::vector<std::pair<uint64_t, uint64_t>> ranges, uint64_t index_offset) {
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].first + ranges[i - 1].second)
      throw TraceError("index entries for the frames at bytes " +
                           std::to_string(ranges[i - 1].first) + " and " +
                           std::to_string(ranges[i].first) + " overlap",
                       index_offset);
  }
}

// Checks an index against the file before anything trusts it.
void check_index(const IndexInfo& index, uint64_t header_end, uint64_t index_offset) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  uint64_t prev_end = header_end, prev_first = 0;
  for (const ChunkRef& c : index.chunks) {
    if (c.offset < prev_end || c.frame_bytes == 0 || c.frame_bytes > index_offset - c.offset ||
        c.first_ordinal < prev_first || c.last_ordinal < c.first_ordinal || c.count == 0 ||
        c.count > kMaxChunkEvents) {
      throw TraceError(
          "index entry for the chunk at byte " + std::to_string(c.offset) + " is inconsistent",
          index_offset);
    }
    prev_end = c.offset + c.frame_bytes;
    prev_first = c.first_ordinal;
    ranges.emplace_back(c.offset, c.frame_bytes);
  }
  for (const BlobRef& b : index.blobs) {
    if (b.offset < header_end || b.offset >= index_offset || b.frame_bytes == 0 ||
        b.frame_bytes > index_offset - b.offset)
      throw TraceError("index entry for blob " + b.hash + " is out of range", index_offset);
    ranges.emplace_back(b.offset, b.frame_bytes);
  }
  check_ranges(std::move(ranges), index_offset);
}

// The guest RAM in bytes when the header gives it as rrvm writes it
// (decimal bytes, not 0), at most kMaxGuestRam. A value the machine cannot
// take is the configuration's error to report (replay), not the blobs'.
std::optional<uint64_t> header_ram(const HeaderInfo& h) {
  for (const auto& [key, value] : h.config) {
    if (key != "mem" || value.empty() || value.size() > 19) continue;
    if (!std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    uint64_t ram = std::stoull(value);
    if (ram) return std::min(ram, kMaxGuestRam);
  }
  return std::nullopt;
}

// Records for one blob agree on its size and part count, and name each
// part once.
void check_parts(const std::vector<BlobRef>& parts) {
  const BlobRef& first = parts.front();
  std::set<uint32_t> seen;
  for (const BlobRef& b : parts) {
    if (b.size != first.size || b.parts != first.parts || b.parts == 0 || b.part >= b.parts)
      throw TraceError("blob " + b.hash + ": part " + std::to_string(b.part) + " of " +
                           std::to_string(b.parts) + " (" + std::to_string(b.size) +
                           " bytes) disagrees with its other records",
                       b.offset);
    if (!seen.insert(b.part).second)
      throw TraceError("blob " + b.hash + " has part " + std::to_string(b.part) + " twice",
                       b.offset);
  }
}

}  // namespace

TraceReader::TraceReader(const std::string& path)
    : TraceReader(ByteSource::open_file(path), path) {}

TraceReader::TraceReader(std::vector<uint8_t> bytes)
    : TraceReader(ByteSource(std::move(bytes)), "") {}

TraceReader::TraceReader(ByteSource src, std::string path)
    : src_(std::move(src)), path_(std::move(path)), dctx_(ZSTD_createDCtx()) {
  status_.file_bytes = src_.size();
  tagged([&] { open(); });
}

TraceReader::~TraceReader() = default;

// A TraceError leaving the reader names its file.
template <typename F>
auto TraceReader::tagged(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (TraceError& e) {
    if (e.file().empty()) e.set_file(path_);
    throw;
  }
}

// Header first; then the index when the trailer points to a sound one, else
// a scan of every frame. Then the blobs' declared sizes.
void TraceReader::open() {
  read_header();
  std::optional<uint64_t> index_offset;
  if (src_.size() >= header_end_ + kTrailerSize) {
    index_offset = parse_trailer(src_.read(src_.size() - kTrailerSize, kTrailerSize), src_.size());
  }
  bool indexed = false;
  if (index_offset && *index_offset >= header_end_) {
    try {
      indexed = load_index(*index_offset);
    } catch (const TraceError&) {
      // The scan names the damaged frame; if it finds none, the index
      // itself is wrong.
      scan(true);
      throw;
    }
  }
  if (!indexed) scan(index_offset.has_value());
  check_blob_refs();
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
  if (f.kind == Frame::kSkippable)
    throw TraceError("not an rrvm trace: it starts with a skippable frame, not a header record", 0);
  if (f.kind != Frame::kRecord) throw TraceError("not an rrvm trace: " + f.why, 0);
  Record r(f.bytes, 0, dctx_.get());
  if (r.which() != schema::TraceRecord::HEADER)
    throw TraceError("not an rrvm trace: the first record is not a header", 0);
  header_ = guarded(0, "header", [&] { return parse_header(r.root().getHeader(), 0); });
  header_end_ = f.size;
  status_.valid_bytes = f.size;
  blob_limit_ = header_ram(header_).value_or(kDefaultBlobLimit);
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
  index_offset_ = index_offset;
  status_ = {true, src_.size(), src_.size(), ""};
  return true;
}

// Walks every frame after the header: chunk positions, blobs, index and
// footer, and where the trace stops. With `end_is_known` (there is a
// trailer), running out of bytes is damage rather than a cut. Chunks and
// blobs are only peeked at: their checksums are checked when read.
void TraceReader::scan(bool end_is_known) {
  uint64_t off = header_end_;
  bool after_index = false;
  for (;;) {
    Frame f = read_frame(src_, off, end_is_known);
    if (f.kind == Frame::kEnd) break;
    if (f.kind == Frame::kCorrupt) throw TraceError("corrupt trace: " + f.why, off);
    if (f.kind == Frame::kTruncated) {
      status_.reason = cut_reason(off, src_.size(), f.why);
      break;
    }
    if (f.kind == Frame::kRecord) scan_record(f, after_index);
    off += f.size;
    status_.valid_bytes = off;
  }
  status_.complete = footer_.has_value() && status_.reason.empty();
  if (!footer_ && status_.reason.empty())
    status_.reason = cut_reason(off, src_.size(), "the file ends after a whole frame");
}

// One record of a scan. The footer ends a trace (only the trailer may
// follow it) and only the footer may follow the index: a record after
// either is damage, never a "complete" trace with records past its end.
void TraceReader::scan_record(const Frame& f, bool& after_index) {
  uint64_t offset = f.offset;
  RecordPeek peek(f.bytes, offset, dctx_.get());
  auto which = peek.which();
  if (footer_ || (after_index && which != schema::TraceRecord::FOOTER))
    throw TraceError(std::string("a ") + record_name(which) + " record after the " +
                         (footer_ ? "footer" : "index"),
                     offset);
  switch (which) {
    case schema::TraceRecord::HEADER:
      throw TraceError("a second header record", offset);
    case schema::TraceRecord::BLOB: {
      BlobRef b = guarded(offset, "blob record",
                          [&] { return parse_blob(peek.root().getBlob(), offset, f.size); });
      blobs_[b.hash].push_back(std::move(b));
      break;
    }
    case schema::TraceRecord::CHUNK: {
      ChunkRef c = guarded(offset, "chunk record", [&] {
        auto ch = peek.root().getChunk();
        return ChunkRef{ch.getFirstOrdinal(), ch.getFirstOrdinal(), offset, f.size, ch.getCount()};
      });
      chunks_.push_back(c);
      break;
    }
    case schema::TraceRecord::INDEX: {
      Record r(f.bytes, offset, dctx_.get());
      index_counts_ =
          guarded(offset, "index", [&] { return parse_index(r.root().getIndex()).counts_by_kind; });
      after_index = true;
      break;
    }
    case schema::TraceRecord::FOOTER: {
      Record r(f.bytes, offset, dctx_.get());
      footer_ = guarded(offset, "footer", [&] { return parse_footer(r.root().getFooter()); });
      break;
    }
    default:
      break;  // a record kind of a newer minor version: skip it
  }
}

// Before any blob is decompressed: well-formed hashes, records that agree,
// and declared sizes that fit in the guest's RAM, each and together (the
// loaders put every image there).
void TraceReader::check_blob_refs() {
  uint64_t total = 0;
  for (const auto& [hash, parts] : blobs_) {
    const BlobRef& first = parts.front();
    if (!is_content_hash(hash))
      throw TraceError("blob hash '" + hash + "' is not 32 or 16 lower-case hex digits",
                       first.offset);
    check_parts(parts);
    total += std::min(first.size, kMaxGuestRam + 1);
    if (first.size > blob_limit_ || total > blob_limit_)
      throw TraceError("blob " + hash + " (" + first.role + ") declares " +
                           std::to_string(first.size) + " bytes" +
                           (first.size > blob_limit_ ? "" : ", the images together more") +
                           ": more than the " + std::to_string(blob_limit_) +
                           " bytes of guest RAM the images must fit in",
                       first.offset);
  }
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
  Record r(f.bytes, c.offset, dctx_.get(), &buffer_);
  if (r.which() != schema::TraceRecord::CHUNK)
    throw TraceError("the index points at a record that is not a chunk", c.offset);
  guarded(c.offset, "chunk", [&] { decode_chunk(r.root().getChunk(), c.offset, batch_); });
  if (batch_.events.empty() || batch_.events.front().ordinal != c.first_ordinal ||
      batch_.events.size() != c.count ||
      (has_index_ && batch_.events.back().ordinal != c.last_ordinal)) {
    throw TraceError("chunk differs from its index entry", c.offset);
  }
  pos_ = landmark_ = payload_ = text_ = 0;
}

bool TraceReader::next(ReadEvent& out) {
  return tagged([&] {
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
      check_order(out.event.ordinal);
      if (skip_below_ && out.event.ordinal < *skip_below_) continue;
      skip_below_.reset();
      return true;
    }
  });
}

// Exit ordinals never go backwards in a recording (the writer appends in
// order); a chunk's unsigned deltas can still wrap, and chunks can lie
// about where they start.
void TraceReader::check_order(uint64_t ordinal) {
  if (last_ordinal_ && ordinal < *last_ordinal_)
    throw TraceError("event ordinals go backwards (exit " + std::to_string(ordinal) +
                         " after exit " + std::to_string(*last_ordinal_) + ")",
                     chunks_[next_chunk_ - 1].offset);
  last_ordinal_ = ordinal;
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
  last_ordinal_.reset();
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

std::string TraceReader::find_blob(const std::string& prefix) const {
  if (blobs_.count(prefix)) return prefix;
  const std::string* found = nullptr;
  for (const auto& [hash, parts] : blobs_) {
    if (hash.compare(0, prefix.size(), prefix) != 0) continue;
    if (found) {
      TraceError e("blob hash prefix '" + prefix + "' is ambiguous");
      e.set_file(path_);
      throw e;
    }
    found = &hash;
  }
  if (!found) {
    TraceError e("no blob with hash '" + prefix + "' in this trace");
    e.set_file(path_);
    throw e;
  }
  return *found;
}

void TraceReader::read_blob(const std::string& hash,
                            const std::function<void(std::span<const uint8_t>)>& sink) {
  tagged([&] {
    const std::vector<BlobRef>& refs = blobs_.at(find_blob(hash));
    const BlobRef& first = refs.front();
    // check_blob_refs() made the parts distinct and below `parts`: all are
    // here when there are `parts` of them.
    std::vector<const BlobRef*> order;
    for (const BlobRef& b : refs) order.push_back(&b);
    std::sort(order.begin(), order.end(),
              [](const BlobRef* x, const BlobRef* y) { return x->part < y->part; });
    if (order.size() != first.parts) {
      uint32_t missing = 0;
      while (missing < order.size() && order[missing]->part == missing) ++missing;
      throw TraceError("blob " + first.hash + " lacks part " + std::to_string(missing) + " of " +
                           std::to_string(first.parts),
                       first.offset);
    }
    ContentHasher hasher(first.hash);
    uint64_t done = 0;
    for (const BlobRef* part : order) {
      Frame f = frame_at(part->offset, "blob");
      Record r(f.bytes, part->offset, dctx_.get(), &buffer_);
      if (r.which() != schema::TraceRecord::BLOB)
        throw TraceError("the index points at a record that is not a blob", part->offset);
      guarded(part->offset, "blob", [&] {
        auto b = r.root().getBlob();
        if (b.getHash() != first.hash || b.getPart() != part->part)
          throw TraceError("the index points at the wrong blob record", part->offset);
        auto data = b.getData();  // once: every read counts against the traversal limit
        if (data.size() > first.size - done)
          throw TraceError("blob " + first.hash + " is longer than its size", part->offset);
        std::span<const uint8_t> bytes(data.begin(), data.size());
        hasher.update(bytes);
        sink(bytes);
        done += data.size();
      });
    }
    if (done != first.size)
      throw TraceError("blob " + first.hash + " holds " + std::to_string(done) +
                           " bytes, its records declare " + std::to_string(first.size),
                       first.offset);
    if (hasher.digest() != first.hash)
      throw TraceError("blob " + first.hash + " does not match its hash", first.offset);
  });
}

std::vector<uint8_t> TraceReader::blob(const std::string& hash_prefix) {
  std::vector<uint8_t> out;
  read_blob(hash_prefix,
            [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); });
  return out;
}

std::vector<TraceError> TraceReader::check_layout() {
  if (!has_index_) return {};
  std::map<uint64_t, const char*> listed;
  for (const ChunkRef& c : chunks_) listed[c.offset] = "chunk";
  for (const auto& [hash, parts] : blobs_)
    for (const BlobRef& b : parts) listed[b.offset] = "blob";
  std::vector<TraceError> out;
  uint64_t off = header_end_;
  while (off < index_offset_ && out.size() < kMaxLayoutProblems) {
    Frame f = read_frame(src_, off, true);
    if (f.kind == Frame::kEnd || f.kind == Frame::kCorrupt || f.kind == Frame::kTruncated) {
      out.emplace_back("corrupt trace: " + (f.why.empty() ? "no frame" : f.why), off);
      return out;
    }
    if (f.kind == Frame::kRecord && !listed.erase(off)) {
      try {
        RecordPeek peek(f.bytes, off, dctx_.get());
        out.emplace_back(
            std::string("a ") + record_name(peek.which()) + " record the index does not list", off);
      } catch (const TraceError& e) {
        out.push_back(e);
      }
    }
    off += f.size;
  }
  if (off > index_offset_) out.emplace_back("a frame runs into the index", index_offset_);
  for (const auto& [at, what] : listed) {
    if (out.size() >= kMaxLayoutProblems) break;
    out.emplace_back(std::string("the index lists a ") + what + " where no frame starts", at);
  }
  for (TraceError& e : out) e.set_file(path_);
  return out;
}

}  // namespace rrvm::trace
