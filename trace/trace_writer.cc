#include "trace/trace_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>

#include "trace/chunk_codec.h"
#include "trace/frame_io.h"
#include "trace/records.h"

namespace rrvm::trace {

namespace {

constexpr size_t kBlobPart = size_t{4} << 20;
// Guest images are written once and read by every replay, and the test
// guests and firmware are small and full of zeros (page tables, padding):
// compress them as hard as zstd goes. Level 19 runs at 1-3 MB/s, so blobs
// larger than one part (a Linux kernel and initrd, mostly compressed
// already) get a level that keeps the start of a recording within seconds.
constexpr Compression kSmallBlob{19, true};
constexpr size_t kSmallBlobBytes = kBlobPart;
constexpr Compression kLargeBlob{9, true};
// A chunk ends early once its side data reaches this, so that a record stays
// far below kMaxFrameContent (one side item adds at most arena_bytes / 2).
constexpr size_t kChunkSideBytes = size_t{4} << 20;

// Where side data of `len` bytes starts when the arena's fill position is
// `pos`: items never wrap around the end; they skip to the start instead.
// Producer and worker apply the same rule, so only lengths are exchanged.
uint64_t place(uint64_t pos, size_t len, size_t arena_size) {
  uint64_t in = pos & (arena_size - 1);
  return in + len > arena_size ? pos - in + arena_size : pos;
}

// Records that are small (the header, index and footer, and the chunks of a
// sparse trace: with reads left to the models, a periodic flush often
// carries a handful of events) compress at level 19 in well under a
// millisecond, and a fifth smaller than at level 3, where most of such a
// frame is Cap'n Proto structure. Larger chunks keep the configured level.
constexpr size_t kSmallRecord = size_t{16} << 10;
constexpr int kSmallRecordLevel = 19;

std::vector<uint8_t> small_or_level(capnp::MessageBuilder& message, ZSTD_CCtx* cctx, int level) {
  kj::Array<capnp::word> words = message_bytes(message);
  auto bytes = words.asBytes();
  if (bytes.size() <= kSmallRecord) level = std::max(level, kSmallRecordLevel);
  return compress_frame({bytes.begin(), bytes.size()}, cctx, level);
}

size_t pow2_at_least(size_t n, size_t min) {
  return std::bit_ceil(std::max(n, min));
}

}  // namespace

// The worker's state (the producer never touches it).
struct TraceWriter::Impl {
  struct PendingFrame {
    std::vector<uint8_t> bytes;
    BlobRef ref;
  };
  std::string path;
  int fd = -1;
  CCtx cctx{ZSTD_createCCtx()};
  ChunkEncoder encoder;
  IndexInfo index;
  uint64_t offset = 0;  // bytes written
  uint64_t byte_pos = 0;
  std::chrono::steady_clock::time_point next_flush;
  // Blob frames waiting for the worker, under mu_.
  std::deque<PendingFrame> pending;
  uint64_t pending_seq = 0, written_seq = 0;
  std::set<std::string> blobs;  // hashes added (the producer's)

  void write(std::span<const uint8_t> bytes);
};

void TraceWriter::Impl::write(std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw TraceWriteError("writing " + path + " failed at byte " + std::to_string(offset + done) +
                            ": " + (n < 0 ? std::strerror(errno) : "no progress"));
    }
    done += static_cast<size_t>(n);
  }
  offset += bytes.size();
}

TraceWriter::TraceWriter(const std::string& path, const HeaderInfo& header, WriterOptions opts)
    : opts_(opts), impl_(std::make_unique<Impl>()) {
  opts_.ring_events = pow2_at_least(opts_.ring_events, 64);
  opts_.arena_bytes = pow2_at_least(opts_.arena_bytes, 4096);
  opts_.chunk_events = std::clamp<size_t>(opts_.chunk_events, 1,
                                          std::min<size_t>(opts_.ring_events / 2, kMaxChunkEvents));
  ring_size_ = opts_.ring_events;
  ring_mask_ = ring_size_ - 1;
  arena_size_ = opts_.arena_bytes;
  arena_mask_ = arena_size_ - 1;
  ring_ = std::make_unique<Event[]>(ring_size_);
  side_len_ = std::make_unique_for_overwrite<uint32_t[]>(ring_size_);
  arena_ = std::make_unique_for_overwrite<uint8_t[]>(arena_size_);  // untouched until used
  next_wake_ = opts_.chunk_events;
  impl_->path = path;
  impl_->fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (impl_->fd < 0) throw TraceWriteError("cannot create " + path + ": " + std::strerror(errno));
  try {
    capnp::MallocMessageBuilder msg;
    build_header(header, msg.initRoot<schema::TraceRecord>().initHeader());
    impl_->write(small_or_level(msg, impl_->cctx.get(), opts_.level));
  } catch (...) {
    ::close(impl_->fd);
    throw;
  }
  file_bytes_ = impl_->offset;
  impl_->next_flush = std::chrono::steady_clock::now() + opts_.flush_interval;
  thread_ = std::thread([this] { worker(); });
}

TraceWriter::~TraceWriter() {
  if (closed_) return;
  stop_worker();
  ::close(impl_->fd);
}

std::string TraceWriter::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void TraceWriter::throw_failure() const {
  throw TraceWriteError(error());
}

// ---- producer side ----

void TraceWriter::append_side(const Event& e, std::span<const uint8_t> side) {
  if (failed()) throw_failure();
  if (static_cast<unsigned>(e.kind) >= kEventKinds)
    throw std::invalid_argument("unknown trace event kind " + std::to_string(unsigned(e.kind)));
  if (e.kind == EventKind::kLandmark && side.size() != sizeof(LandmarkData)) {
    append_landmark(e, LandmarkData{});
    return;
  }
  bool has_side = (kSideKinds >> static_cast<unsigned>(e.kind)) & 1u;
  if (!has_side) side = {};
  if (side.size() > arena_size_ / 2)
    throw std::length_error("trace side data of " + std::to_string(side.size()) +
                            " bytes exceeds the writer's limit of " +
                            std::to_string(arena_size_ / 2));
  uint64_t start = place(byte_head_, side.size(), arena_size_);
  if (head_ - tail_seen_ >= ring_size_ || start + side.size() - byte_tail_seen_ > arena_size_)
    wait_for_room(start + side.size());
  if (!side.empty()) std::memcpy(&arena_[start & arena_mask_], side.data(), side.size());
  if (has_side) {
    byte_head_ = start + side.size();
    side_len_[head_ & ring_mask_] = static_cast<uint32_t>(side.size());
  }
  ring_[head_ & ring_mask_] = e;
  publish();
}

void TraceWriter::append_text(const Event& e, std::string_view text) {
  append_side(e, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

void TraceWriter::append_landmark(const Event& e, const LandmarkData& lm) {
  Event l = e;
  l.kind = EventKind::kLandmark;
  append_side(l, {reinterpret_cast<const uint8_t*>(&lm), sizeof lm});
}

// Waits until one more event and arena bytes up to `byte_end` fit.
void TraceWriter::wait_for_room(uint64_t byte_end) {
  auto fits = [&] {
    tail_seen_ = consumed_.load(std::memory_order_acquire);
    byte_tail_seen_ = bytes_consumed_.load(std::memory_order_acquire);
    return head_ - tail_seen_ < ring_size_ && byte_end - byte_tail_seen_ <= arena_size_;
  };
  if (!fits()) ++waits_;
  while (!fits()) {
    if (failed()) throw_failure();
    if (closed_) throw std::logic_error("append to a closed TraceWriter");
    std::unique_lock<std::mutex> lock(mu_);
    // Ask for everything, not just full chunks: the arena may be full with
    // fewer than chunk_events events in the ring.
    ++flush_requested_;
    work_cv_.notify_one();
    done_cv_.wait_for(lock, std::chrono::milliseconds(50),
                      [&] { return fits() || failed_.load(); });
  }
}

void TraceWriter::wake_worker() {
  next_wake_ = head_ + opts_.chunk_events;
  { std::lock_guard<std::mutex> lock(mu_); }  // the worker is waiting or will see the events
  work_cv_.notify_one();
}

void TraceWriter::flush() {
  if (closed_) throw std::logic_error("flush of a closed TraceWriter");
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t want = ++flush_requested_;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return flush_done_ >= want || failed_.load(); });
  lock.unlock();
  if (failed()) throw_failure();
}

void TraceWriter::request_flush() {
  if (closed_) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++flush_requested_;
  work_cv_.notify_one();
}

std::string TraceWriter::add_blob(std::string_view role, std::span<const uint8_t> bytes) {
  if (failed()) throw_failure();
  if (closed_) throw std::logic_error("add_blob to a closed TraceWriter");
  std::string hash = content_hash(bytes);
  if (!impl_->blobs.insert(hash).second) return hash;
  uint32_t parts =
      static_cast<uint32_t>(std::max<size_t>(1, (bytes.size() + kBlobPart - 1) / kBlobPart));
  CCtx cctx(ZSTD_createCCtx());  // the worker owns impl_->cctx
  Compression how = bytes.size() <= kSmallBlobBytes ? kSmallBlob : kLargeBlob;
  for (uint32_t p = 0; p < parts; ++p) {
    size_t from = size_t{p} * kBlobPart, len = std::min(kBlobPart, bytes.size() - from);
    capnp::MallocMessageBuilder msg;
    auto b = msg.initRoot<schema::TraceRecord>().initBlob();
    b.setHash(hash);
    b.setRole(std::string(role));
    b.setPart(p);
    b.setParts(parts);
    b.setSize(bytes.size());
    b.setData(kj::arrayPtr(bytes.data() + from, len));
    Impl::PendingFrame f{record_frame(msg, cctx.get(), how),
                         {hash, std::string(role), p, parts, bytes.size(), 0, 0}};
    std::unique_lock<std::mutex> lock(mu_);
    impl_->pending.push_back(std::move(f));
    uint64_t seq = ++impl_->pending_seq;
    work_cv_.notify_one();
    done_cv_.wait(lock, [&] { return impl_->written_seq >= seq || failed_.load(); });
  }
  if (failed()) throw_failure();
  return hash;
}

// ---- worker side ----

void TraceWriter::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait_until(lock, impl_->next_flush, [&] {
      return stop_ || flush_requested_ > flush_done_ || impl_->pending_seq > impl_->written_seq ||
             published_.load(std::memory_order_acquire) -
                     consumed_.load(std::memory_order_relaxed) >=
                 opts_.chunk_events;
    });
    bool stop = stop_;
    uint64_t flush_to = flush_requested_;
    bool periodic = std::chrono::steady_clock::now() >= impl_->next_flush;
    lock.unlock();
    work(stop || periodic || flush_to > flush_done_, periodic);
    lock.lock();
    flush_done_ = flush_to;
    done_cv_.notify_all();
    if (stop) return;
  }
}

// Writes blob frames and full chunks; with `everything`, also the last
// partial chunk. Errors end up in fail(); after one, the ring is emptied
// unwritten so the producer never waits for a dead worker.
void TraceWriter::work(bool everything, bool periodic) {
  try {
    if (!failed()) {
      write_pending_frames();
      uint64_t before = impl_->offset;
      drain(everything);
      if (periodic && opts_.sync_on_flush && impl_->offset != before && ::fdatasync(impl_->fd) != 0)
        throw TraceWriteError("fdatasync " + impl_->path + ": " + std::strerror(errno));
    }
  } catch (const std::exception& e) {
    fail(e.what());
  } catch (...) {
    fail("unexpected error while writing " + impl_->path);
  }
  if (everything) impl_->next_flush = std::chrono::steady_clock::now() + opts_.flush_interval;
  if (failed()) {
    std::lock_guard<std::mutex> lock(mu_);
    impl_->written_seq = impl_->pending_seq;
    impl_->pending.clear();
    consumed_.store(published_.load(std::memory_order_acquire), std::memory_order_release);
  }
  file_bytes_.store(impl_->offset, std::memory_order_relaxed);
}

void TraceWriter::write_pending_frames() {
  for (;;) {
    Impl::PendingFrame f;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (impl_->pending.empty()) return;
      f = std::move(impl_->pending.front());
      impl_->pending.pop_front();
    }
    f.ref.offset = impl_->offset;
    f.ref.frame_bytes = f.bytes.size();
    impl_->write(f.bytes);
    impl_->index.blobs.push_back(std::move(f.ref));
    std::lock_guard<std::mutex> lock(mu_);
    ++impl_->written_seq;
    done_cv_.notify_all();
  }
}

void TraceWriter::drain(bool everything) {
  uint64_t end = published_.load(std::memory_order_acquire);
  uint64_t tail = consumed_.load(std::memory_order_relaxed);
  while (end > tail && (everything || end - tail >= opts_.chunk_events)) {
    tail = encode(tail, std::min<uint64_t>(end - tail, opts_.chunk_events));
    // The encoder holds copies: the producer may reuse the slots now.
    bytes_consumed_.store(impl_->byte_pos, std::memory_order_release);
    consumed_.store(tail, std::memory_order_release);
    { std::lock_guard<std::mutex> lock(mu_); }  // a waiting producer is now in wait()
    done_cv_.notify_all();
    write_chunk();
  }
}

// Feeds up to `n` events from `tail` to the encoder; returns the new tail
// (earlier when the chunk's side data is full).
uint64_t TraceWriter::encode(uint64_t tail, uint64_t n) {
  ChunkEncoder& enc = impl_->encoder;
  enc.clear();
  uint64_t i = 0;
  while (i < n && enc.side_bytes() < kChunkSideBytes) {
    size_t slot = (tail + i++) & ring_mask_;
    const Event& e = ring_[slot];
    if (!((kSideKinds >> static_cast<unsigned>(e.kind)) & 1u)) {
      enc.add(e);
      continue;
    }
    size_t len = side_len_[slot];
    uint64_t start = place(impl_->byte_pos, len, arena_size_);
    impl_->byte_pos = start + len;
    enc.add(e, {&arena_[start & arena_mask_], len});
  }
  return tail + i;
}

void TraceWriter::write_chunk() {
  const ChunkEncoder& enc = impl_->encoder;
  capnp::MallocMessageBuilder msg;
  enc.finish(msg.initRoot<schema::TraceRecord>().initChunk());
  std::vector<uint8_t> frame = small_or_level(msg, impl_->cctx.get(), opts_.level);
  ChunkRef ref{enc.first_ordinal(), enc.last_ordinal(), impl_->offset, frame.size(),
               static_cast<uint32_t>(enc.events())};
  impl_->write(frame);
  impl_->index.chunks.push_back(ref);
  auto& counts = impl_->index.counts_by_kind;
  counts.resize(kEventKinds);
  for (size_t k = 0; k < counts.size(); ++k) counts[k] += enc.counts()[k];
}

void TraceWriter::fail(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failed_.load()) error_ = why;
  failed_.store(true, std::memory_order_release);
  done_cv_.notify_all();
}

void TraceWriter::stop_worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

// ---- closing ----

void TraceWriter::close(const FooterInfo& footer) {
  if (closed_) throw std::logic_error("TraceWriter::close called twice");
  stop_worker();
  closed_ = true;
  ring_size_ = 0;  // appending after close now fails in wait_for_room
  int fd = impl_->fd;
  try {
    if (failed()) throw_failure();
    write_end(footer);
    if (::fsync(fd) != 0)
      throw TraceWriteError("fsync " + impl_->path + ": " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0)
    throw TraceWriteError("closing " + impl_->path + ": " + std::strerror(errno));
}

// Index, footer and trailer, on the closing thread (the worker has stopped).
void TraceWriter::write_end(const FooterInfo& footer) {
  IndexInfo& index = impl_->index;
  index.counts_by_kind.resize(kEventKinds);
  FooterInfo f = footer;
  f.counts_by_kind = index.counts_by_kind;
  f.total_events = 0;
  for (uint64_t c : f.counts_by_kind) f.total_events += c;
  if (f.exits == 0 && !index.chunks.empty()) f.exits = index.chunks.back().last_ordinal + 1;
  uint64_t index_offset = impl_->offset;
  capnp::MallocMessageBuilder idx, foot;
  build_index(index, idx.initRoot<schema::TraceRecord>().initIndex());
  impl_->write(small_or_level(idx, impl_->cctx.get(), opts_.level));
  build_footer(f, foot.initRoot<schema::TraceRecord>().initFooter());
  impl_->write(small_or_level(foot, impl_->cctx.get(), opts_.level));
  impl_->write(make_trailer(index_offset));
  file_bytes_.store(impl_->offset, std::memory_order_relaxed);
}

}  // namespace rrvm::trace
