// One trace record = one zstd frame (content size and content checksum set)
// around one unpacked Cap'n Proto message. Reading never trusts a length:
// frame sizes come from zstd's own parser, content sizes are capped, and the
// Cap'n Proto traversal limit is derived from the frame's real size.
#pragma once

#include <capnp/message.h>
#include <zstd.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rrvm::trace {

constexpr uint64_t kMaxFrameContent = 64ull << 20;  // largest record we write or accept
constexpr uint32_t kSkippableMagic = 0x184D2A50;
constexpr char kTrailerTag[8] = {'R', 'R', 'V', 'M', 'I', 'D', 'X', 0};
constexpr size_t kTrailerSize = 8 + 16;  // skippable header + tag + offset

// Compresses `message` into one frame.
std::vector<uint8_t> make_frame(capnp::MessageBuilder& message, ZSTD_CCtx* cctx, int level);
// The skippable frame that ends a complete trace, pointing at the index.
std::vector<uint8_t> make_trailer(uint64_t index_offset);
// The index offset from a trailer at the end of `file`, if there is one.
bool read_trailer(std::span<const uint8_t> file, uint64_t* index_offset);

struct FrameInfo {
  enum Kind { kRecord, kSkippable, kTruncated, kCorrupt } kind;
  uint64_t size = 0;  // bytes of the whole frame
  std::string why;    // for kTruncated / kCorrupt
};
// Classifies the frame starting at `rest` without decompressing it.
FrameInfo scan_frame(std::span<const uint8_t> rest);

// Decompresses a record frame, checking its content checksum; throws
// TraceError(offset) on any problem.
std::vector<capnp::word> decompress_frame(std::span<const uint8_t> frame, uint64_t offset,
                                          ZSTD_DCtx* dctx);

}  // namespace rrvm::trace
