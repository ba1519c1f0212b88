#include "replay/dirty_tracker.h"

#include <xxhash.h>

#include <bit>

namespace rrvm {

namespace {
constexpr uint64_t kPage = 4096;
size_t bitmap_words(uint64_t bytes) {
  return (bytes / kPage + 63) / 64;
}
}  // namespace

DirtyTracker::DirtyTracker(KvmVm& vm, const GuestRam& ram) : vm_(vm), ram_(ram) {
  for (const auto& r : ram.regions()) accumulated_.emplace_back(bitmap_words(r.size), 0);
  run_ = accumulated_;
}

void DirtyTracker::collect() {
  for (size_t slot = 0; slot < accumulated_.size(); ++slot) {
    scratch_.assign(accumulated_[slot].size(), 0);
    vm_.get_dirty_log(static_cast<uint32_t>(slot), scratch_);
    for (size_t i = 0; i < scratch_.size(); ++i) {
      accumulated_[slot][i] |= scratch_[i];
      run_[slot][i] |= scratch_[i];
    }
  }
}

uint64_t DirtyTracker::digest() {
  collect();
  return digest_of(accumulated_);
}

uint64_t DirtyTracker::run_digest() {
  collect();
  return digest_of(run_);
}

uint64_t DirtyTracker::digest_of(const std::vector<std::vector<uint64_t>>& set) const {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  for (size_t slot = 0; slot < set.size(); ++slot) {
    const auto& region = ram_.regions()[slot];
    const auto& bits = set[slot];
    for (size_t w = 0; w < bits.size(); ++w) {
      for (uint64_t word = bits[w]; word; word &= word - 1) {
        uint64_t page = w * 64 + static_cast<uint64_t>(std::countr_zero(word));
        uint64_t gpa = region.gpa + page * kPage;
        XXH3_64bits_update(st, &gpa, sizeof gpa);
        XXH3_64bits_update(st, region.host + page * kPage, kPage);
      }
    }
  }
  uint64_t d = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return d;
}

void DirtyTracker::reset() {
  collect();  // drop what KVM holds too, so the next interval starts empty
  for (auto& bits : accumulated_) std::fill(bits.begin(), bits.end(), 0);
}

size_t DirtyTracker::pages() const {
  size_t n = 0;
  for (const auto& bits : accumulated_) {
    for (uint64_t w : bits) n += static_cast<size_t>(std::popcount(w));
  }
  return n;
}

}  // namespace rrvm
