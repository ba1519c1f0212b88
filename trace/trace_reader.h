// Reads a .rrt trace: the header and blobs up front, then events in order
// (or from an ordinal, through the index when the trace has one). A trace cut
// off anywhere yields every event up to its last complete frame and says
// where it ends; a damaged one is a TraceError naming the byte offset.
#pragma once

#include <zstd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trace/chunk_codec.h"
#include "trace/event.h"

namespace rrvm::trace {

// One event with its side data (null where the kind has none).
struct ReadEvent {
  Event event;
  const LandmarkData* landmark = nullptr;
  const std::vector<uint8_t>* payload = nullptr;
  const std::string* text = nullptr;
};

class TraceReader {
 public:
  // Throws std::system_error-like TraceError for an unreadable or corrupt
  // file start; missing files throw TraceMissing.
  explicit TraceReader(const std::string& path);
  // Reads a trace held in memory (tests, fuzzing).
  explicit TraceReader(std::vector<uint8_t> bytes);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  const HeaderInfo& header() const { return header_; }
  // The footer of a complete trace; nullopt when the trace was cut off.
  const std::optional<FooterInfo>& footer() const { return footer_; }
  bool complete() const { return footer_.has_value(); }
  // For a cut-off trace: the byte where the last complete frame ends, and why.
  uint64_t valid_bytes() const { return valid_bytes_; }
  const std::string& truncation() const { return truncation_; }
  uint64_t file_size() const { return file_.size(); }
  size_t chunk_count() const { return chunks_.size(); }
  // Event counts by kind from the index (complete traces only).
  const std::vector<uint64_t>& index_counts() const { return index_counts_; }

  // Next event in order; false at the end. Throws TraceError on a damaged chunk.
  bool next(ReadEvent& out);
  // Positions before the first event with ordinal >= `ordinal`.
  void seek(uint64_t ordinal);

  // A blob by content hash or unique hash prefix; throws TraceError if no
  // or several blobs match.
  std::vector<uint8_t> blob(const std::string& hash_prefix);
  std::vector<std::pair<std::string, std::string>> blobs() const;  // (hash, role)

 private:
  void scan();
  void handle_record(uint64_t offset, uint64_t size);
  void load_chunk(size_t i);

  std::vector<uint8_t> file_;
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx_{ZSTD_createDCtx(), &ZSTD_freeDCtx};
  HeaderInfo header_;
  bool have_header_ = false;
  std::optional<FooterInfo> footer_;
  std::vector<uint64_t> index_counts_;
  uint64_t valid_bytes_ = 0;
  std::string truncation_;
  struct ChunkPos {
    uint64_t offset, size, first_ordinal;
  };
  std::vector<ChunkPos> chunks_;
  struct BlobPart {
    std::string role;
    uint32_t part, parts;
    uint64_t offset, size;
  };
  std::map<std::string, std::vector<BlobPart>> blobs_;
  size_t next_chunk_ = 0;
  EventBatch batch_;
  size_t pos_ = 0, landmark_ = 0, payload_ = 0, text_ = 0;
};

// A missing or unreadable input file (CLI exit 66), as opposed to a bad one.
class TraceMissing : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rrvm::trace
