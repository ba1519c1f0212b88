// Events <-> Chunk records. Events are stored column-wise as LEB128 bytes:
// ordinals as deltas, read values as zigzag deltas from the previous value of
// the same port or address, clock values as deltas from the previous clock
// value, so the hot events (PIT reads, clock reads, interrupts) take one to
// three bytes before zstd and less after it. Chunks decode independently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trace/event.h"
#include "trace/trace.capnp.h"

namespace rrvm::trace {

// Events plus the side tables of the kinds that carry more than numbers,
// each consumed in event order.
struct EventBatch {
  std::vector<Event> events;
  std::vector<LandmarkData> landmarks;
  std::vector<std::vector<uint8_t>> payloads;  // dma-write, packet, console-input
  std::vector<std::string> texts;              // guest-exit, note
  void clear() {
    events.clear();
    landmarks.clear();
    payloads.clear();
    texts.clear();
  }
};

void encode_chunk(const EventBatch& batch, schema::Chunk::Builder out);
// Throws TraceError naming `offset` (the frame's file offset) when the chunk
// is inconsistent: counts that do not match, truncated fields, bad kinds.
void decode_chunk(schema::Chunk::Reader in, uint64_t offset, EventBatch& out);

}  // namespace rrvm::trace
