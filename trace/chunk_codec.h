// Events <-> Chunk records (trace.capnp, Chunk): column-wise varints with
// ordinals as deltas and read values as deltas from the previous value of
// the same port, address, MSR or clock source, so hot events take a byte or
// two before zstd and a fraction of that after it. Chunks decode on their own.
// Internal to trace/ (and its tests and benchmark).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trace/event.h"
#include "trace/trace.capnp.h"

namespace rrvm::trace {

// Most events in one chunk record. The writer never puts more in one (it
// clamps WriterOptions::chunk_events), so a reader refuses a chunk declaring
// more as damaged before decoding it: a few KiB of compressed kinds could
// otherwise declare millions of events and cost gigabytes decoded.
constexpr uint32_t kMaxChunkEvents = 1u << 16;

// The previous value per (kind, port/address/msr/source): a small open-
// addressing table, cleared at every chunk start. Its size is bounded by the
// number of events in the chunk.
class DeltaState {
 public:
  uint64_t& prev(EventKind kind, uint64_t key);
  void clear();

 private:
  struct Slot {
    uint64_t key = 0, value = 0;
    uint8_t kind = 0;
    bool used = false;
  };
  void grow();
  std::vector<Slot> slots_ = std::vector<Slot>(64);
  size_t used_ = 0;
};

// Builds one chunk, event by event. Reused across chunks: clear() keeps the
// column buffers' capacity.
class ChunkEncoder {
 public:
  void clear();
  // `side` is the event's bytes (dma-write, packet, console-input) or text
  // (guest-exit, note); empty for the other kinds.
  void add(const Event& e, std::span<const uint8_t> side = {});
  void add_landmark(const Event& e, const LandmarkData& lm);

  size_t events() const { return kinds_.size(); }
  size_t side_bytes() const { return payloads_.size() + landmarks_.size() * sizeof(LandmarkData); }
  uint64_t first_ordinal() const { return first_; }
  uint64_t last_ordinal() const { return last_; }
  const std::vector<uint64_t>& counts() const { return counts_; }

  void finish(schema::Chunk::Builder out) const;

 private:
  void start(const Event& e);
  void encode_fields(const Event& e, std::span<const uint8_t> side);

  std::vector<uint8_t> kinds_, ordinals_, args_, values_, payloads_;
  std::vector<LandmarkData> landmarks_;
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kEventKinds, 0);
  DeltaState delta_;
  uint64_t first_ = 0, last_ = 0;
};

// A decoded chunk: events plus the side data of the kinds that have it, each
// list in event order.
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

// Throws TraceError naming `offset` (the frame's file offset) when the chunk
// is inconsistent: more than kMaxChunkEvents events, counts that disagree,
// short or overlong columns, unknown kinds, reserved bits set. Memory: the
// events (32 bytes each, at most kMaxChunkEvents) and copies of their side
// bytes, which the chunk's payload column bounds.
void decode_chunk(schema::Chunk::Reader in, uint64_t offset, EventBatch& out);

}  // namespace rrvm::trace
