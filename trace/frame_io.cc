#include "trace/frame_io.h"

#include <capnp/serialize.h>

#include <cstring>

#include "trace/event.h"

namespace rrvm::trace {

std::vector<uint8_t> make_frame(capnp::MessageBuilder& message, ZSTD_CCtx* cctx, int level) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  if (bytes.size() > kMaxFrameContent) throw TraceWriteError("trace record larger than 64 MiB");
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  std::vector<uint8_t> out(ZSTD_compressBound(bytes.size()));
  size_t n = ZSTD_compress2(cctx, out.data(), out.size(), bytes.begin(), bytes.size());
  if (ZSTD_isError(n)) throw TraceWriteError(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::vector<uint8_t> make_trailer(uint64_t index_offset) {
  std::vector<uint8_t> t(kTrailerSize);
  uint32_t magic = kSkippableMagic, len = 16;
  std::memcpy(t.data(), &magic, 4);
  std::memcpy(t.data() + 4, &len, 4);
  std::memcpy(t.data() + 8, kTrailerTag, 8);
  std::memcpy(t.data() + 16, &index_offset, 8);
  return t;
}

bool read_trailer(std::span<const uint8_t> file, uint64_t* index_offset) {
  if (file.size() < kTrailerSize) return false;
  const uint8_t* t = file.data() + file.size() - kTrailerSize;
  uint32_t magic, len;
  std::memcpy(&magic, t, 4);
  std::memcpy(&len, t + 4, 4);
  if (magic != kSkippableMagic || len != 16 || std::memcmp(t + 8, kTrailerTag, 8) != 0)
    return false;
  std::memcpy(index_offset, t + 16, 8);
  return *index_offset < file.size() - kTrailerSize;
}

FrameInfo scan_frame(std::span<const uint8_t> rest) {
  if (rest.size() < 8) return {FrameInfo::kTruncated, 0, "a frame header is cut off"};
  uint32_t magic;
  std::memcpy(&magic, rest.data(), 4);
  if ((magic & 0xFFFFFFF0u) == kSkippableMagic) {
    uint32_t len;
    std::memcpy(&len, rest.data() + 4, 4);
    if (len > rest.size() - 8) return {FrameInfo::kTruncated, 0, "a skippable frame is cut off"};
    return {FrameInfo::kSkippable, 8ull + len, ""};
  }
  if (magic != ZSTD_MAGICNUMBER)
    return {FrameInfo::kCorrupt, 0, "not a zstd frame (bad magic number)"};
  unsigned long long content = ZSTD_getFrameContentSize(rest.data(), rest.size());
  if (content == ZSTD_CONTENTSIZE_ERROR) return {FrameInfo::kCorrupt, 0, "bad zstd frame header"};
  if (content == ZSTD_CONTENTSIZE_UNKNOWN || content > kMaxFrameContent) {
    return {FrameInfo::kCorrupt, 0, "zstd frame content size missing or above 64 MiB"};
  }
  size_t size = ZSTD_findFrameCompressedSize(rest.data(), rest.size());
  if (ZSTD_isError(size)) {
    // zstd cannot tell a cut-off frame from a damaged one; a frame that
    // runs to the end of the file is the common, benign case.
    return {FrameInfo::kTruncated, 0,
            std::string("incomplete zstd frame (") + ZSTD_getErrorName(size) + ")"};
  }
  return {FrameInfo::kRecord, size, ""};
}

std::vector<capnp::word> decompress_frame(std::span<const uint8_t> frame, uint64_t offset,
                                          ZSTD_DCtx* dctx) {
  unsigned long long content = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN ||
      content > kMaxFrameContent || content % sizeof(capnp::word) != 0) {
    throw TraceError("bad record frame size", offset);
  }
  std::vector<capnp::word> words(content / sizeof(capnp::word));
  size_t n = ZSTD_decompressDCtx(dctx, words.data(), content, frame.data(), frame.size());
  if (ZSTD_isError(n)) {
    throw TraceError(std::string("corrupt record (") + ZSTD_getErrorName(n) + ")", offset);
  }
  if (n != content) throw TraceError("record shorter than its declared size", offset);
  return words;
}

}  // namespace rrvm::trace
