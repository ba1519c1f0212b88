// Reads a .rrt trace (format in trace/trace.capnp): the header on open, then
// events in order, from the start or from an exit ordinal, and embedded
// blobs by hash.
//
// A complete trace is opened through its index (found via the trailer); one
// without (cut off by SIGKILL or power loss) is scanned frame by frame and
// yields every event up to its last complete frame, with status() saying
// where and why it ends. Damage (bad checksum, malformed record,
// inconsistent index, records out of place) is a TraceError naming the byte
// offset, thrown by the constructor or by next()/seek()/read_blob() when they
// reach it.
//
// A trace is untrusted input (it comes with bug reports), so the reader
// bounds what it spends by what the trace can legitimately hold: it holds
// one frame at a time (at most 64 MiB), decodes at most kMaxChunkEvents
// events per chunk, checks every blob's declared size against the guest RAM
// the header gives before decompressing any of it, and a scan reads only
// the first bytes of chunk and blob frames (time grows with the number of
// frames, not with what they declare). It never sizes memory from a length
// it has not checked against the file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "trace/byte_source.h"
#include "trace/chunk_codec.h"
#include "trace/event.h"
#include "trace/frame_io.h"
#include "trace/records.h"

namespace rrvm::trace {

// The most guest RAM rrvm runs a machine with; no image can be larger.
constexpr uint64_t kMaxGuestRam = 64ull << 30;
// What all embedded images together may hold when the header does not give
// the guest's RAM ("mem") in bytes, as rrvm writes it.
constexpr uint64_t kDefaultBlobLimit = 1ull << 30;

struct TraceStatus {
  bool complete = false;     // ends with index, footer and trailer (or at least a footer)
  uint64_t valid_bytes = 0;  // bytes of whole frames from the start
  uint64_t file_bytes = 0;
  std::string reason;  // empty when complete: "truncated at byte N of M (why), without a footer"
};

struct BlobInfo {
  std::string hash, role;
  uint64_t size = 0;
  uint32_t parts = 0;
  uint64_t stored_bytes = 0;  // compressed, all parts' frames
};

class TraceReader {
 public:
  // Throws TraceMissing when the file cannot be opened (or is not a regular
  // file), TraceError when it is not a readable trace.
  explicit TraceReader(const std::string& path);
  // Reads a trace held in memory (tests, fuzzing).
  explicit TraceReader(std::vector<uint8_t> bytes);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // The file's path ("" for a buffer); TraceErrors from this reader carry it.
  const std::string& path() const { return path_; }
  const HeaderInfo& header() const { return header_; }
  // The footer, when the trace has one.
  const std::optional<FooterInfo>& footer() const { return footer_; }
  const TraceStatus& status() const { return status_; }
  bool complete() const { return status_.complete; }
  uint64_t valid_bytes() const { return status_.valid_bytes; }
  const std::string& truncation() const { return status_.reason; }
  uint64_t file_size() const { return status_.file_bytes; }
  bool has_index() const { return has_index_; }

  size_t chunk_count() const { return chunks_.size(); }
  // Compressed bytes of all chunk records (the events' share of the file).
  uint64_t chunk_bytes() const;
  // Event counts by kind as the index records them; empty without an index.
  const std::vector<uint64_t>& index_counts() const { return index_counts_; }

  // The next event in order; false at the end. Its side data stays valid
  // until the next call to next() or seek(). Throws TraceError on a damaged
  // chunk or an ordinal below the one before (events before it were
  // returned).
  bool next(ReadEvent& out);
  // Positions before the first event whose ordinal is >= `ordinal`
  // (through the index; a cut-off trace uses the chunk table of its scan).
  void seek(uint64_t ordinal);

  // Most bytes the embedded blobs may hold together (each one too): the
  // guest RAM the header's "mem" gives, else kDefaultBlobLimit. Checked on
  // open, before any blob is decompressed.
  uint64_t blob_limit() const { return blob_limit_; }
  std::vector<BlobInfo> blobs() const;
  // The full hash of the one blob whose hash starts with `prefix`. Throws
  // TraceError when none or several match.
  std::string find_blob(const std::string& prefix) const;
  // Hands blob `hash`'s bytes to `sink` part by part (one frame in memory at
  // a time), then checks that the parts add up to its size and the bytes to
  // its hash. Throws TraceError for a missing part or any damage; `sink` has
  // then seen bytes that must not be trusted.
  void read_blob(const std::string& hash,
                 const std::function<void(std::span<const uint8_t>)>& sink);
  // A blob's bytes by hash or unique hash prefix, checked as read_blob does.
  std::vector<uint8_t> blob(const std::string& hash_prefix);

  // Frames of a trace opened through its index that the index does not
  // account for: a footer or header in the middle, a record it does not
  // list, an entry where no frame starts. Empty for a scanned trace, whose
  // scan refuses records out of place. Reads every frame header.
  std::vector<TraceError> check_layout();

 private:
  TraceReader(ByteSource src, std::string path);
  void open();
  void read_header();
  bool load_index(uint64_t index_offset);
  void scan(bool end_is_known);
  void scan_record(const Frame& f, bool& after_index);
  void check_blob_refs();
  void load_chunk(size_t i);
  void check_order(uint64_t ordinal);
  Frame frame_at(uint64_t offset, const char* what);
  template <typename F>
  auto tagged(F&& f) -> decltype(f());

  ByteSource src_;
  std::string path_;
  DCtx dctx_;
  RecordBuffer buffer_;  // chunks and blob parts, one at a time
  HeaderInfo header_;
  uint64_t header_end_ = 0;
  uint64_t index_offset_ = 0;
  uint64_t blob_limit_ = kDefaultBlobLimit;
  std::optional<FooterInfo> footer_;
  TraceStatus status_;
  bool has_index_ = false;
  std::vector<ChunkRef> chunks_;
  std::map<std::string, std::vector<BlobRef>> blobs_;
  std::vector<uint64_t> index_counts_;

  EventBatch batch_;
  size_t next_chunk_ = 0, pos_ = 0, landmark_ = 0, payload_ = 0, text_ = 0;
  std::optional<uint64_t> skip_below_;
  std::optional<uint64_t> last_ordinal_;
};

}  // namespace rrvm::trace
