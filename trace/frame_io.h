// Framing (trace.capnp, file layout): one record = one zstd frame with the
// content size and a content checksum, around one unpacked Cap'n Proto
// message; a complete trace ends with a skippable "trailer" frame pointing at
// the index. Reading never trusts a length: content sizes are capped, frame
// sizes come from zstd's parser over a bounded read, and Cap'n Proto
// traversal limits follow from the frame's real size. Internal to trace/.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <zstd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "trace/byte_source.h"
#include "trace/event.h"
#include "trace/trace.capnp.h"

namespace rrvm::trace {

constexpr uint64_t kMaxFrameContent = 64ull << 20;  // largest record written or accepted
constexpr uint32_t kSkippableMagic = 0x184D2A50;
constexpr size_t kTrailerSize = 32;  // skippable header (8) + tag (8) + offset (8) + xxh64 (8)

struct ZstdFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
using CCtx = std::unique_ptr<ZSTD_CCtx, ZstdFree>;
using DCtx = std::unique_ptr<ZSTD_DCtx, ZstdFree>;

// The message's standard (unpacked) serialization.
kj::Array<capnp::word> message_bytes(capnp::MessageBuilder& message);
// How hard to compress one frame.
struct Compression {
  // Implicit from a level: most frames need nothing else.
  constexpr Compression(int zstd_level = 3, bool long_distance_matching = false)
      : level(zstd_level), long_distance(long_distance_matching) {}
  int level;
  // zstd's long-distance matching (for guest images: repeats far apart).
  // The window still fits the frame's content (zstd sizes it from the
  // content size), so any reader with zstd's default limits reads it.
  bool long_distance;
};
// One zstd frame with content size and checksum. Throws TraceWriteError when
// the content exceeds kMaxFrameContent.
std::vector<uint8_t> compress_frame(std::span<const uint8_t> content, ZSTD_CCtx* cctx,
                                    Compression how);
std::vector<uint8_t> record_frame(capnp::MessageBuilder& message, ZSTD_CCtx* cctx, Compression how);

std::vector<uint8_t> make_trailer(uint64_t index_offset);
// The index offset from the last kTrailerSize bytes of a file of
// `file_size` bytes; nullopt when they are not a trailer. Throws TraceError
// when they are one but damaged.
std::optional<uint64_t> parse_trailer(std::span<const uint8_t> tail, uint64_t file_size);

struct Frame {
  enum Kind { kRecord, kSkippable, kEnd, kTruncated, kCorrupt };
  Kind kind = kEnd;
  uint64_t offset = 0;
  uint64_t size = 0;           // bytes of the whole frame (kRecord, kSkippable)
  std::vector<uint8_t> bytes;  // the whole frame (kRecord; kSkippable up to 64 bytes)
  std::string why;             // kTruncated, kCorrupt
};
// The frame at `offset`, classified without decompressing it. A frame that
// runs past the end of the data is kTruncated unless `end_is_known` (the file
// has a trailer, so it was not cut off): then it is kCorrupt.
Frame read_frame(const ByteSource& src, uint64_t offset, bool end_is_known = false);

// Memory for decompressed records, kept from one to the next: allocations
// of tens of MiB are fresh mappings, and faulting their pages in again for
// every frame dominated the time to read large blobs.
class RecordBuffer {
 public:
  capnp::word* get(size_t words) {
    if (words > size_) {
      words_.reset(new capnp::word[words]);  // not zeroed: only what is decompressed is touched
      size_ = words;
    }
    return words_.get();
  }

 private:
  std::unique_ptr<capnp::word[]> words_;
  size_t size_ = 0;
};

// A decompressed and checksummed record frame. Not movable (the message
// reader points into its words).
class Record {
 public:
  // Throws TraceError naming `offset` for any damage. With `buffer`, the
  // record lives in it (and is invalid once the buffer is used again).
  Record(std::span<const uint8_t> frame, uint64_t offset, ZSTD_DCtx* dctx,
         RecordBuffer* buffer = nullptr);
  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  schema::TraceRecord::Reader root() const { return root_; }
  schema::TraceRecord::Which which() const { return which_; }
  uint64_t offset() const { return offset_; }

 private:
  std::unique_ptr<capnp::word[]> own_;
  capnp::word* words_ = nullptr;
  size_t size_ = 0;  // words
  std::optional<capnp::FlatArrayMessageReader> reader_;
  schema::TraceRecord::Reader root_;
  schema::TraceRecord::Which which_;
  uint64_t offset_;
};

// The start of a record frame, decompressed without the rest and without
// checking the frame's content checksum (reading the whole Record does
// that): enough to tell the record's kind and read a chunk's or a blob's
// small fields, which the writer puts first (before the columns and the
// blob's bytes). A scan of a trace without an index peeks at chunk and blob
// frames, so it costs time in the number of frames, not in the bytes they
// declare. Not movable.
class RecordPeek {
 public:
  static constexpr size_t kBytes = 64 * 1024;
  // Throws TraceError naming `offset` when the frame is damaged or the
  // record's root is not within the first kBytes.
  RecordPeek(std::span<const uint8_t> frame, uint64_t offset, ZSTD_DCtx* dctx);
  RecordPeek(const RecordPeek&) = delete;
  RecordPeek& operator=(const RecordPeek&) = delete;

  // Reading a field that lies beyond the first kBytes throws a kj::Exception
  // (wrap reads in guarded()).
  schema::TraceRecord::Reader root() const { return root_; }
  schema::TraceRecord::Which which() const { return which_; }

 private:
  std::unique_ptr<capnp::word[]> words_;
  std::optional<capnp::SegmentArrayMessageReader> reader_;
  kj::ArrayPtr<const capnp::word> segment_;
  schema::TraceRecord::Reader root_;
  schema::TraceRecord::Which which_;
};

// Runs `f`, turning Cap'n Proto's exceptions about malformed data into a
// TraceError naming `offset`.
template <typename F>
auto guarded(uint64_t offset, const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const kj::Exception& e) {
    throw TraceError(std::string("malformed ") + what + " (" + e.getDescription().cStr() + ")",
                     offset);
  }
}

}  // namespace rrvm::trace
