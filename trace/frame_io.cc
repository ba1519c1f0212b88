#include "trace/frame_io.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

namespace rrvm::trace {

namespace {

constexpr char kTrailerTag[8] = {'R', 'R', 'V', 'M', 'I', 'D', 'X', 0};
constexpr size_t kSkippableKept = 64;
constexpr size_t kMaxFrameHeader = 18;  // RFC 8878, 3.1.1.1
constexpr uint64_t kFirstRead = 64 * 1024;
constexpr size_t kDictIdBytes[4] = {0, 1, 2, 4};
constexpr size_t kContentSizeBytes[4] = {0, 2, 4, 8};

uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

Frame frame(Frame::Kind kind, uint64_t offset, std::string why) {
  Frame f;
  f.kind = kind;
  f.offset = offset;
  f.why = std::move(why);
  return f;
}

Frame read_skippable(const ByteSource& src, uint64_t offset, const std::vector<uint8_t>& head,
                     Frame::Kind cut) {
  uint64_t len = le32(head.data() + 4);
  if (8 + len > src.size() - offset) return frame(cut, offset, "a skippable frame is cut off");
  Frame f = frame(Frame::kSkippable, offset, "");
  f.size = 8 + len;
  f.bytes = src.read(offset, static_cast<size_t>(8 + std::min<uint64_t>(len, kSkippableKept)));
  return f;
}

}  // namespace

kj::Array<capnp::word> message_bytes(capnp::MessageBuilder& message) {
  return capnp::messageToFlatArray(message);
}

std::vector<uint8_t> compress_frame(std::span<const uint8_t> content, ZSTD_CCtx* cctx,
                                    Compression how) {
  if (content.size() > kMaxFrameContent)
    throw TraceWriteError("a trace record would exceed 64 MiB");
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, how.level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, how.long_distance ? 1 : 0);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  std::vector<uint8_t> out(ZSTD_compressBound(content.size()));
  size_t n = ZSTD_compress2(cctx, out.data(), out.size(), content.data(), content.size());
  if (ZSTD_isError(n)) throw TraceWriteError(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::vector<uint8_t> record_frame(capnp::MessageBuilder& message, ZSTD_CCtx* cctx,
                                  Compression how) {
  kj::Array<capnp::word> words = message_bytes(message);
  auto bytes = words.asBytes();
  return compress_frame({bytes.begin(), bytes.size()}, cctx, how);
}

std::vector<uint8_t> make_trailer(uint64_t index_offset) {
  std::vector<uint8_t> t(kTrailerSize);
  uint32_t magic = kSkippableMagic, len = kTrailerSize - 8;
  std::memcpy(t.data(), &magic, 4);
  std::memcpy(t.data() + 4, &len, 4);
  std::memcpy(t.data() + 8, kTrailerTag, 8);
  std::memcpy(t.data() + 16, &index_offset, 8);
  uint64_t check = XXH64(t.data() + 8, 16, 0);
  std::memcpy(t.data() + 24, &check, 8);
  return t;
}

std::optional<uint64_t> parse_trailer(std::span<const uint8_t> tail, uint64_t file_size) {
  if (tail.size() != kTrailerSize) return std::nullopt;
  if ((le32(tail.data()) & 0xFFFFFFF0u) != kSkippableMagic || le32(tail.data() + 4) != 24 ||
      std::memcmp(tail.data() + 8, kTrailerTag, 8) != 0) {
    return std::nullopt;
  }
  uint64_t at = file_size - kTrailerSize, index_offset, check;
  std::memcpy(&index_offset, tail.data() + 16, 8);
  std::memcpy(&check, tail.data() + 24, 8);
  if (check != XXH64(tail.data() + 8, 16, 0) || le32(tail.data()) != kSkippableMagic)
    throw TraceError("damaged trailer (index pointer checksum mismatch)", at);
  if (index_offset >= at) throw TraceError("trailer points past the end of the trace", at);
  return index_offset;
}

namespace {

// Checks a zstd frame header (RFC 8878, 3.1.1.1); returns kRecord with the
// content size in `size`, or why the frame is unusable.
Frame zstd_header(const std::vector<uint8_t>& head, uint64_t offset, Frame::Kind cut) {
  // Frame_Header_Descriptor: the header's length, dictionary, checksum flag.
  uint8_t fhd = head[4];
  bool single = fhd & 0x20;
  size_t need = 5 + (single ? 0 : 1) + kDictIdBytes[fhd & 3] +
                (fhd >> 6 == 0 ? (single ? 1 : 0) : kContentSizeBytes[fhd >> 6]);
  if (head.size() < need) return frame(cut, offset, "a frame header is cut off");
  // We never write a dictionary, the reserved bit or the unused bit.
  if ((fhd & 0x1b) != 0) return frame(Frame::kCorrupt, offset, "bad zstd frame header");
  if (!(fhd & 0x04)) return frame(Frame::kCorrupt, offset, "zstd frame without a checksum");
  unsigned long long content = ZSTD_getFrameContentSize(head.data(), head.size());
  if (content == ZSTD_CONTENTSIZE_ERROR)
    return frame(Frame::kCorrupt, offset, "bad zstd frame header");
  if (content == ZSTD_CONTENTSIZE_UNKNOWN || content > kMaxFrameContent)
    return frame(Frame::kCorrupt, offset, "zstd frame content size missing or above 64 MiB");
  Frame f = frame(Frame::kRecord, offset, "");
  f.size = content;
  return f;
}

// The whole frame of `content` bytes at `offset`. A frame zstd wrote is
// never larger than compressBound; read up to that in growing steps (most
// frames are far smaller than their content).
Frame zstd_frame(const ByteSource& src, uint64_t offset, uint64_t content, Frame::Kind cut) {
  uint64_t left = src.size() - offset;
  uint64_t limit = std::min<uint64_t>(ZSTD_compressBound(static_cast<size_t>(content)) + 64, left);
  Frame f = frame(Frame::kRecord, offset, "");
  size_t size = 0;
  for (uint64_t want = std::min(kFirstRead, limit);; want = std::min(want * 4, limit)) {
    f.bytes = src.read(offset, static_cast<size_t>(want));
    size = ZSTD_findFrameCompressedSize(f.bytes.data(), f.bytes.size());
    if (!ZSTD_isError(size) || want == limit) break;
  }
  if (ZSTD_isError(size)) {
    Frame::Kind kind = f.bytes.size() == left ? cut : Frame::kCorrupt;
    return frame(kind, offset,
                 kind == Frame::kTruncated
                     ? std::string("the last frame is cut off")
                     : std::string("damaged zstd frame (") + ZSTD_getErrorName(size) + ")");
  }
  f.bytes.resize(size);
  f.size = size;
  return f;
}

}  // namespace

Frame read_frame(const ByteSource& src, uint64_t offset, bool end_is_known) {
  if (offset >= src.size()) return frame(Frame::kEnd, offset, "");
  std::vector<uint8_t> head = src.read(offset, kMaxFrameHeader);
  // Running out of bytes is a cut-off trace, unless the trace says where it ends.
  Frame::Kind cut = end_is_known ? Frame::kCorrupt : Frame::kTruncated;
  uint32_t magic = 0;
  if (head.size() >= 4) std::memcpy(&magic, head.data(), 4);
  bool known = magic == ZSTD_MAGICNUMBER || (magic & 0xFFFFFFF0u) == kSkippableMagic;
  if (head.size() >= 4 && !known)
    return frame(Frame::kCorrupt, offset, "not a zstd frame (bad magic number)");
  if (head.size() < 8) return frame(cut, offset, "a frame header is cut off");
  if (magic != ZSTD_MAGICNUMBER) return read_skippable(src, offset, head, cut);
  Frame h = zstd_header(head, offset, cut);
  return h.kind == Frame::kRecord ? zstd_frame(src, offset, h.size, cut) : h;
}

namespace {

// The content size a record frame declares, checked (a whole number of
// Cap'n Proto words, at most kMaxFrameContent).
uint64_t record_content_size(std::span<const uint8_t> frame, uint64_t offset) {
  unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
      content > kMaxFrameContent || content % sizeof(capnp::word) != 0 || content == 0) {
    throw TraceError("bad record size in zstd frame header", offset);
  }
  return content;
}

capnp::ReaderOptions reader_options(size_t words) {
  capnp::ReaderOptions opts;
  // Each word is visited about once; the slack covers small repeated reads.
  opts.traversalLimitInWords = words * 2 + 1024;
  opts.nestingLimit = 16;
  return opts;
}

// The first `n` bytes of the frame's content (streaming: the rest is never
// decompressed).
void decompress_prefix(std::span<const uint8_t> frame, uint64_t offset, ZSTD_DCtx* dctx, void* out,
                       size_t n) {
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  ZSTD_outBuffer o{out, n, 0};
  while (o.pos < o.size) {
    size_t in_before = in.pos, out_before = o.pos;
    size_t r = ZSTD_decompressStream(dctx, &o, &in);
    if (ZSTD_isError(r))
      throw TraceError(std::string("corrupt record (") + ZSTD_getErrorName(r) + ")", offset);
    if (r == 0 || (in.pos == in_before && o.pos == out_before)) break;
  }
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  if (o.pos != n) throw TraceError("record shorter than its declared size", offset);
}

}  // namespace

RecordPeek::RecordPeek(std::span<const uint8_t> frame, uint64_t offset, ZSTD_DCtx* dctx) {
  uint64_t content = record_content_size(frame, offset);
  size_t bytes = static_cast<size_t>(std::min<uint64_t>(content, kBytes));
  size_t words = bytes / sizeof(capnp::word);
  words_.reset(new capnp::word[words]);
  decompress_prefix(frame, offset, dctx, words_.get(), bytes);
  // The segment table (4 bytes count - 1, 4 bytes per segment size, padded
  // to a word), then segment 0: as much of it as the prefix holds. A far
  // pointer to a later segment is "beyond the prefix".
  uint32_t head[2];
  std::memcpy(head, words_.get(), sizeof head);
  uint64_t table_words = (4 + 4 * (uint64_t{head[0]} + 1) + 7) / 8;
  if (table_words >= words) {
    throw TraceError(bytes == content ? "malformed record (no room for its segment table)"
                                      : "record fields beyond its first 64 KiB",
                     offset);
  }
  size_t seg = static_cast<size_t>(std::min<uint64_t>(head[1], words - table_words));
  segment_ = kj::arrayPtr(words_.get() + table_words, seg);
  guarded(offset, "record", [&] {
    reader_.emplace(kj::arrayPtr(&segment_, 1), reader_options(seg));
    root_ = reader_->getRoot<schema::TraceRecord>();
    which_ = root_.which();
  });
}

Record::Record(std::span<const uint8_t> frame, uint64_t offset, ZSTD_DCtx* dctx,
               RecordBuffer* buffer)
    : offset_(offset) {
  uint64_t content = record_content_size(frame, offset);
  // Not zero-filled: pages a lying size never gets written are never touched.
  size_ = static_cast<size_t>(content / sizeof(capnp::word));
  if (buffer) {
    words_ = buffer->get(size_);
  } else {
    own_.reset(new capnp::word[size_]);
    words_ = own_.get();
  }
  size_t n = ZSTD_decompressDCtx(dctx, words_, content, frame.data(), frame.size());
  if (ZSTD_isError(n)) {
    throw TraceError(std::string("corrupt record (") + ZSTD_getErrorName(n) + ")", offset);
  }
  if (n != content) throw TraceError("record shorter than its declared size", offset);
  guarded(offset, "record", [&] {
    reader_.emplace(kj::arrayPtr(words_, size_), reader_options(size_));
    if (reader_->getEnd() != words_ + size_)
      throw TraceError("record has bytes after its message", offset);
    root_ = reader_->getRoot<schema::TraceRecord>();
    which_ = root_.which();
  });
}

}  // namespace rrvm::trace
