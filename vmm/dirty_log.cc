#include "vmm/dirty_log.h"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace rrvm {

namespace {
size_t words_for(uint64_t pages) {
  return (pages + 63) / 64;
}
}  // namespace

DirtyLog::DirtyLog(std::vector<uint64_t> slot_pages, Fetch fetch)
    : slot_pages_(std::move(slot_pages)), fetch_(std::move(fetch)) {}

void DirtyLog::sync() {
  for (uint32_t slot = 0; slot < slot_pages_.size(); ++slot) {
    scratch_.assign(words_for(slot_pages_[slot]), 0);
    fetch_(slot, scratch_);
    for (DirtyPages* p : subscribers_) p->merge(slot, scratch_);
  }
}

void DirtyLog::mark_host_write(uint32_t slot, uint64_t first, uint64_t count) {
  for (DirtyPages* p : subscribers_) {
    if (p->host_writes_) p->mark(slot, first, count);
  }
}

void DirtyLog::mark_guest_write(uint32_t slot, uint64_t first, uint64_t count) {
  for (DirtyPages* p : subscribers_) p->mark(slot, first, count);
}

void DirtyLog::add(DirtyPages* p) {
  // What KVM holds now was written before `p` existed: the others get it.
  sync();
  subscribers_.push_back(p);
}

void DirtyLog::remove(DirtyPages* p) {
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), p), subscribers_.end());
}

DirtyPages::DirtyPages(DirtyLog& log, bool host_writes) : log_(log), host_writes_(host_writes) {
  for (uint64_t pages : log.slot_pages()) bits_.emplace_back(words_for(pages), 0);
  log_.add(this);
}

DirtyPages::~DirtyPages() {
  log_.remove(this);
}

void DirtyPages::clear() {
  for (auto& words : bits_) std::fill(words.begin(), words.end(), 0);
}

void DirtyPages::assign(const Bits& bits) {
  if (bits.size() != bits_.size()) throw std::invalid_argument("dirty page set of another RAM");
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i].size() != bits_[i].size())
      throw std::invalid_argument("dirty page set of another RAM");
  }
  bits_ = bits;
}

size_t DirtyPages::count() const {
  size_t n = 0;
  for (const auto& words : bits_) {
    for (uint64_t w : words) n += static_cast<size_t>(std::popcount(w));
  }
  return n;
}

void DirtyPages::merge(uint32_t slot, std::span<const uint64_t> words) {
  auto& mine = bits_[slot];
  for (size_t i = 0; i < words.size(); ++i) mine[i] |= words[i];
}

void DirtyPages::mark(uint32_t slot, uint64_t first, uint64_t count) {
  auto& mine = bits_[slot];
  for (uint64_t page = first; page < first + count; ++page) mine[page / 64] |= 1ull << (page % 64);
}

}  // namespace rrvm
