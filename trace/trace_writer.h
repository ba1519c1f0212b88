// Writes a .rrt trace. The producer (the vCPU thread) only appends Events to
// an in-memory batch; a background thread encodes full batches into chunk
// records, compresses and writes them (DESIGN.md, Trace file). The file is
// readable up to its last complete frame at every moment: the writer hands a
// batch over at least once a second, and close() adds index, footer and the
// trailer and fsyncs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

#include <zstd.h>
#include <vector>

#include "trace/chunk_codec.h"
#include "trace/event.h"

namespace rrvm::trace {

struct WriterOptions {
  int level = 3;                  // zstd level; see tests/bench/trace_bench
  size_t chunk_events = 16384;    // events per chunk record
  size_t max_queued_batches = 8;  // the producer waits beyond this (bounded memory)
};

class TraceWriter {
 public:
  // Creates `path` (replacing it) and writes the header. Throws
  // TraceWriteError if the file cannot be created.
  TraceWriter(const std::string& path, const HeaderInfo& header, WriterOptions opts = {});
  // Without close(), what was written stays a valid truncated trace.
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Embeds a guest image (split above 4 MiB); returns its content hash.
  std::string add_blob(const std::string& role, const std::vector<uint8_t>& bytes);

  // Hot path: no allocation while the batch has room.
  void append(const Event& e) {
    cur_.events.push_back(e);
    if (cur_.events.size() >= opts_.chunk_events || flush_due_.load(std::memory_order_relaxed)) {
      hand_over();
    }
  }
  void append_landmark(const Event& e, const LandmarkData& lm);
  void append_payload(const Event& e, std::vector<uint8_t> bytes);
  void append_text(const Event& e, std::string text);

  // Hands the current batch to the writer thread.
  void flush();
  // Writes everything, the index, the footer and the trailer; fsyncs. Throws
  // TraceWriteError if anything failed to reach the disk.
  void close(const FooterInfo& footer);

  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  std::string error() const;
  uint64_t events_appended() const { return appended_ + cur_.events.size(); }

 private:
  struct Job {
    EventBatch batch;
    std::vector<uint8_t> frame;  // a ready record (blob) instead of a batch
  };
  void hand_over();
  void enqueue(Job job);
  void worker();
  void write_frame(const std::vector<uint8_t>& frame);
  void write_batch(EventBatch& batch);
  void fail(const std::string& why);
  std::vector<uint8_t> record_frame(capnp::MessageBuilder& msg);

  WriterOptions opts_;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx_{ZSTD_createCCtx(), &ZSTD_freeCCtx};
  EventBatch cur_;
  uint64_t appended_ = 0;

  std::mutex mu_;
  std::condition_variable cv_, space_cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool busy_ = false;
  std::atomic<bool> flush_due_{false};
  std::atomic<bool> failed_{false};
  std::string error_;

  // Owned by the worker thread (read after it stops).
  uint64_t offset_ = 0;
  std::vector<std::tuple<uint64_t, uint64_t, uint32_t>> chunks_;  // first ordinal, offset, count
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kEventKinds, 0);
  std::thread thread_;
  bool closed_ = false;
};

}  // namespace rrvm::trace
