// Writes a .rrt trace (DESIGN.md, "Trace file"; format in trace/trace.capnp).
//
// One thread (the vCPU thread) appends Events; they go into a lock-free
// single-producer/single-consumer ring, side data (bytes, text, landmark
// registers) into a byte arena beside it. Appending never allocates and
// never waits unless the ring or the arena is full. A background thread
// takes events out of the ring, encodes them into chunk records, compresses
// them (zstd, content checksum on) and writes them. It writes whatever has
// been appended at least once per flush_interval (one second), so a killed
// recording loses at most that much; close() writes the rest, the index,
// the footer and the trailer, and fsyncs.
//
// A failed write (disk full, I/O error) is never dropped silently: the next
// append, flush, add_blob or close throws TraceWriteError, and the file holds
// every frame written before the failure.
//
// Call every member from one thread (the producer); the worker is internal.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "trace/event.h"
#include "trace/event_stream.h"

namespace rrvm::trace {

struct WriterOptions {
  int level = 3;  // zstd level; the default comes from tests/bench/trace_bench
  // Events per chunk record, at most. Larger chunks compress better (each
  // zstd frame learns the event patterns afresh); tests/bench/trace_bench
  // shows the gain flattening out beyond this. At most kMaxChunkEvents
  // (trace/chunk_codec.h), which readers enforce.
  size_t chunk_events = 32768;
  size_t ring_events = size_t{1} << 18;            // appends that fit before the producer waits
  size_t arena_bytes = size_t{16} << 20;           // side data in flight; one item may take half
  std::chrono::milliseconds flush_interval{1000};  // longest an event stays in memory
  bool sync_on_flush = true;  // fdatasync at every periodic flush (power-loss safety)
};

// Kinds with side data, one bit each: the writer's hot-path test.
constexpr uint64_t side_kind_bits() {
  static_assert(kEventKinds <= 64);
  uint64_t bits = 0;
  for (const KindLayout& k : kKindLayouts) {
    if (k.side != SideData::kNone) bits |= uint64_t{1} << static_cast<unsigned>(k.kind);
  }
  return bits;
}

class TraceWriter final : public EventSink {
 public:
  // Creates `path` (replacing it) and writes the header record. Throws
  // TraceWriteError when the file cannot be created or written.
  TraceWriter(const std::string& path, const HeaderInfo& header, WriterOptions opts = {});
  // Without close(), writes what was appended and leaves a valid trace that
  // readers report as cut off ("no footer"). Never throws.
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Embeds a guest image once (by content hash; split into 4 MiB parts) and
  // returns its hash. Waits until it is written.
  std::string add_blob(std::string_view role, std::span<const uint8_t> bytes);

  // The hot path: copies `e` into the ring. Kinds with side data
  // (dma-write, packet, console-input, guest-exit, note, landmark) should use
  // the calls below; here they get empty side data. Throws TraceWriteError
  // after a write failure, std::invalid_argument for an unknown kind.
  void append(const Event& e) override {
    auto k = static_cast<unsigned>(e.kind);
    if (k >= kEventKinds || ((kSideKinds >> k) & 1u) || failed_.load(std::memory_order_relaxed)) {
      append_side(e, {});
      return;
    }
    if (head_ - tail_seen_ >= ring_size_) wait_for_room(byte_head_);
    ring_[head_ & ring_mask_] = e;
    publish();
  }
  // Side data is copied; one item may be at most arena_bytes / 2
  // (std::length_error otherwise).
  void append_bytes(const Event& e, std::span<const uint8_t> bytes) override {
    append_side(e, bytes);
  }
  void append_text(const Event& e, std::string_view text) override;
  void append_landmark(const Event& e, const LandmarkData& lm) override;
  // Older spelling of append_bytes.
  void append_payload(const Event& e, const std::vector<uint8_t>& bytes) { append_bytes(e, bytes); }

  // Writes everything appended so far to the file (not fsync). Throws
  // TraceWriteError after a write failure.
  void flush();
  // The same without waiting: the worker writes everything appended so far
  // soon. For the recorder's once-a-second push, so the vCPU never waits
  // for compression or the disk. Errors surface at the next append/close.
  void request_flush() override;
  // Writes everything, the index, the footer (total and per-kind counts are
  // the writer's own; exits defaults to the last ordinal + 1) and the trailer,
  // then fsyncs and closes. Throws TraceWriteError if anything failed to
  // reach the file.
  void close(const FooterInfo& footer);

  bool failed() const { return failed_.load(std::memory_order_acquire); }
  std::string error() const;
  uint64_t events_appended() const { return head_; }
  uint64_t bytes_written() const { return file_bytes_.load(std::memory_order_relaxed); }
  // Times the producer found the ring or the arena full and had to wait.
  uint64_t producer_waits() const { return waits_; }

 private:
  struct Impl;
  static constexpr uint64_t kSideKinds = side_kind_bits();

  void append_side(const Event& e, std::span<const uint8_t> side);
  void publish() {
    published_.store(++head_, std::memory_order_release);
    if (head_ >= next_wake_) wake_worker();
  }
  void wait_for_room(uint64_t byte_end);
  void wake_worker();
  [[noreturn]] void throw_failure() const;
  // The worker thread.
  void worker();
  void work(bool everything, bool periodic);
  void write_pending_frames();
  void drain(bool everything);
  uint64_t encode(uint64_t tail, uint64_t n);
  void write_chunk();
  void fail(const std::string& why);
  void stop_worker();
  void write_end(const FooterInfo& footer);

  WriterOptions opts_;
  std::unique_ptr<Impl> impl_;  // file, encoder, index: the worker's state

  // Read-mostly, shared.
  std::unique_ptr<Event[]> ring_;
  std::unique_ptr<uint32_t[]> side_len_;
  std::unique_ptr<uint8_t[]> arena_;
  size_t ring_size_ = 0, ring_mask_ = 0, arena_size_ = 0, arena_mask_ = 0;
  std::atomic<bool> failed_{false};

  // The producer's own.
  alignas(64) uint64_t head_ = 0;  // events appended
  uint64_t tail_seen_ = 0;         // a recent value of consumed_
  uint64_t byte_head_ = 0;         // arena bytes used, padding included
  uint64_t byte_tail_seen_ = 0;
  uint64_t next_wake_ = 0;
  uint64_t waits_ = 0;
  bool closed_ = false;

  // Written by the producer / by the worker.
  alignas(64) std::atomic<uint64_t> published_{0};
  alignas(64) std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> bytes_consumed_{0};
  std::atomic<uint64_t> file_bytes_{0};

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  bool stop_ = false;
  uint64_t flush_requested_ = 0, flush_done_ = 0;
  std::string error_;
  std::thread thread_;
};

}  // namespace rrvm::trace
