// Header, footer, index and blob records <-> their plain C++ form
// (trace.capnp). Internal to trace/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trace/event.h"
#include "trace/trace.capnp.h"

namespace rrvm::trace {

// Where a chunk or a blob part is in the file.
struct ChunkRef {
  uint64_t first_ordinal = 0, last_ordinal = 0;
  uint64_t offset = 0, frame_bytes = 0;
  uint32_t count = 0;
};

struct BlobRef {
  std::string hash, role;
  uint32_t part = 0, parts = 0;
  uint64_t size = 0;  // of the whole blob
  uint64_t offset = 0, frame_bytes = 0;
};

struct IndexInfo {
  std::vector<ChunkRef> chunks;
  std::vector<uint64_t> counts_by_kind;
  std::vector<BlobRef> blobs;
};

// The writer always writes this rrvm's format numbers, not the ones in `h`.
void build_header(const HeaderInfo& h, schema::Header::Builder out);
// Throws TraceError naming `offset` for a format this rrvm cannot read or an
// image hash that is not one (trace.capnp, ImageRef).
HeaderInfo parse_header(schema::Header::Reader in, uint64_t offset);

void build_footer(const FooterInfo& f, schema::Footer::Builder out);
FooterInfo parse_footer(schema::Footer::Reader in);

void build_index(const IndexInfo& index, schema::Index::Builder out);
IndexInfo parse_index(schema::Index::Reader in);

// A blob record's metadata (the data stays in the frame).
BlobRef parse_blob(schema::Blob::Reader in, uint64_t offset, uint64_t frame_bytes);

}  // namespace rrvm::trace
