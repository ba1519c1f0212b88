#include "trace/trace_writer.h"

#include <capnp/message.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "trace/frame_io.h"

namespace rrvm::trace {

namespace {

constexpr size_t kBlobPart = 4u << 20;

void fill_header(const HeaderInfo& h, schema::Header::Builder b) {
  b.setFormatMajor(kFormatMajor);
  b.setFormatMinor(kFormatMinor);
  b.setRequiredForwardCompat(kForwardCompat);
  b.setRrvmVersion(h.rrvm_version);
  b.setCreatedUnixSeconds(h.created_unix_seconds);
  b.setClockMode(h.clock_mode);
  auto host = b.initHost();
  host.setKernel(h.host_kernel);
  host.setCpuModel(h.host_cpu);
  auto caps = host.initKvmCapabilities(static_cast<unsigned>(h.kvm_capabilities.size()));
  for (unsigned i = 0; i < caps.size(); ++i) caps.set(i, h.kvm_capabilities[i]);
  auto cfg = b.initConfig(static_cast<unsigned>(h.config.size()));
  for (unsigned i = 0; i < cfg.size(); ++i) {
    cfg[i].setKey(h.config[i].first);
    cfg[i].setValue(h.config[i].second);
  }
  auto cpuid = b.initCpuid(static_cast<unsigned>(h.cpuid.size()));
  for (unsigned i = 0; i < cpuid.size(); ++i) {
    const CpuidLeaf& l = h.cpuid[i];
    cpuid[i].setFunction(l.function);
    cpuid[i].setIndex(l.index);
    cpuid[i].setFlags(l.flags);
    cpuid[i].setEax(l.eax);
    cpuid[i].setEbx(l.ebx);
    cpuid[i].setEcx(l.ecx);
    cpuid[i].setEdx(l.edx);
  }
  auto imgs = b.initImages(static_cast<unsigned>(h.images.size()));
  for (unsigned i = 0; i < imgs.size(); ++i) {
    imgs[i].setRole(h.images[i].role);
    imgs[i].setName(h.images[i].name);
    imgs[i].setHash(h.images[i].hash);
    imgs[i].setSize(h.images[i].size);
  }
}

}  // namespace

TraceWriter::TraceWriter(const std::string& path, const HeaderInfo& header, WriterOptions opts)
    : opts_(opts), path_(path) {
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw TraceWriteError("cannot create " + path + ": " + std::strerror(errno));
  cur_.events.reserve(opts_.chunk_events + 1);
  capnp::MallocMessageBuilder msg;
  fill_header(header, msg.initRoot<schema::TraceRecord>().initHeader());
  write_frame(record_frame(msg));
  if (failed()) {
    std::fclose(file_);
    throw TraceWriteError(error());
  }
  thread_ = std::thread([this] { worker(); });
}

TraceWriter::~TraceWriter() {
  if (!closed_) {
    try {
      flush();
    } catch (...) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (file_) std::fclose(file_);
  }
}

std::vector<uint8_t> TraceWriter::record_frame(capnp::MessageBuilder& msg) {
  return make_frame(msg, cctx_.get(), opts_.level);
}

std::string TraceWriter::add_blob(const std::string& role, const std::vector<uint8_t>& bytes) {
  std::string hash = content_hash(bytes);
  uint32_t parts =
      static_cast<uint32_t>(bytes.empty() ? 1 : (bytes.size() + kBlobPart - 1) / kBlobPart);
  // The worker owns cctx_; blobs are compressed here, on the caller's thread.
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  for (uint32_t p = 0; p < parts; ++p) {
    capnp::MallocMessageBuilder msg;
    auto b = msg.initRoot<schema::TraceRecord>().initBlob();
    b.setHash(hash);
    b.setRole(role);
    b.setPart(p);
    b.setParts(parts);
    size_t from = size_t(p) * kBlobPart, len = std::min(kBlobPart, bytes.size() - from);
    b.setData(kj::arrayPtr(bytes.data() + from, len));
    Job job;
    job.frame = make_frame(msg, cctx.get(), opts_.level);
    enqueue(std::move(job));
  }
  return hash;
}

void TraceWriter::append_landmark(const Event& e, const LandmarkData& lm) {
  cur_.landmarks.push_back(lm);
  append(e);
}

void TraceWriter::append_payload(const Event& e, std::vector<uint8_t> bytes) {
  cur_.payloads.push_back(std::move(bytes));
  append(e);
}

void TraceWriter::append_text(const Event& e, std::string text) {
  cur_.texts.push_back(std::move(text));
  append(e);
}

void TraceWriter::hand_over() {
  flush_due_.store(false, std::memory_order_relaxed);
  if (cur_.events.empty()) return;
  appended_ += cur_.events.size();
  Job job;
  job.batch = std::move(cur_);
  cur_ = EventBatch();
  cur_.events.reserve(opts_.chunk_events + 1);
  enqueue(std::move(job));
}

void TraceWriter::enqueue(Job job) {
  std::unique_lock<std::mutex> lock(mu_);
  space_cv_.wait(lock, [&] { return queue_.size() < opts_.max_queued_batches || failed(); });
  queue_.push_back(std::move(job));
  cv_.notify_one();
}

void TraceWriter::flush() {
  hand_over();
  std::unique_lock<std::mutex> lock(mu_);
  space_cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || failed(); });
}

void TraceWriter::worker() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // Wake at least once a second and ask the producer for its batch, so a
    // crash loses at most about a second of events.
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stopping_) return;
      flush_due_.store(true, std::memory_order_relaxed);
      continue;
    }
    Job job = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    if (!failed()) {
      if (job.frame.empty())
        write_batch(job.batch);
      else
        write_frame(job.frame);
      if (!failed() && std::fflush(file_) != 0)
        fail(std::string("write failed: ") + std::strerror(errno));
    }
    lock.lock();
    busy_ = false;
    space_cv_.notify_all();
  }
}

void TraceWriter::write_batch(EventBatch& batch) {
  capnp::MallocMessageBuilder msg;
  encode_chunk(batch, msg.initRoot<schema::TraceRecord>().initChunk());
  chunks_.emplace_back(batch.events.front().ordinal, offset_,
                       static_cast<uint32_t>(batch.events.size()));
  for (const Event& e : batch.events) ++counts_[static_cast<size_t>(e.kind)];
  write_frame(record_frame(msg));
}

void TraceWriter::write_frame(const std::vector<uint8_t>& frame) {
  if (std::fwrite(frame.data(), 1, frame.size(), file_) != frame.size()) {
    fail(std::string("write to ") + path_ + " failed: " + std::strerror(errno));
    return;
  }
  offset_ += frame.size();
}

void TraceWriter::fail(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failed()) error_ = why;
  failed_.store(true);
  space_cv_.notify_all();
}

std::string TraceWriter::error() const {
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mu_));
  return error_;
}

void TraceWriter::close(const FooterInfo& footer) {
  flush();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  closed_ = true;
  if (!failed()) {
    uint64_t index_offset = offset_;
    capnp::MallocMessageBuilder idx;
    auto index = idx.initRoot<schema::TraceRecord>().initIndex();
    auto refs = index.initChunks(static_cast<unsigned>(chunks_.size()));
    for (unsigned i = 0; i < refs.size(); ++i) {
      refs[i].setFirstOrdinal(std::get<0>(chunks_[i]));
      refs[i].setFileOffset(std::get<1>(chunks_[i]));
      refs[i].setCount(std::get<2>(chunks_[i]));
    }
    auto counts = index.initCountsByKind(kEventKinds);
    for (unsigned i = 0; i < kEventKinds; ++i) counts.set(i, counts_[i]);
    write_frame(record_frame(idx));
    capnp::MallocMessageBuilder foot;
    auto f = foot.initRoot<schema::TraceRecord>().initFooter();
    f.setTotalEvents(footer.total_events);
    f.setExits(footer.exits);
    f.setFinalRegDigest(footer.final_reg_digest);
    f.setFinalMemDigest(footer.final_mem_digest);
    f.setEndReason(footer.end_reason);
    f.setGuestStatus(footer.guest_status);
    write_frame(record_frame(foot));
    write_frame(make_trailer(index_offset));
  }
  bool ok = !failed() && std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
  int err = errno;
  if (std::fclose(file_) != 0) ok = false;
  file_ = nullptr;
  if (!ok)
    throw TraceWriteError(failed() ? error()
                                   : std::string("closing ") + path_ + ": " + std::strerror(err));
}

}  // namespace rrvm::trace
