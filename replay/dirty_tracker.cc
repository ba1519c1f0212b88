#include "replay/dirty_tracker.h"

#include <xxhash.h>

#include <stdexcept>

namespace rrvm {

namespace {
DirtyLog& log_of(const GuestRam& ram) {
  if (!ram.dirty_log()) throw std::logic_error("DirtyTracker: guest RAM has no dirty log");
  return *ram.dirty_log();
}
}  // namespace

DirtyTracker::DirtyTracker(const GuestRam& ram)
    : ram_(ram), interval_(log_of(ram), false), run_(log_of(ram), false) {}

uint64_t DirtyTracker::digest() {
  collect();
  return digest_of(interval_);
}

uint64_t DirtyTracker::run_digest() {
  collect();
  return digest_of(run_);
}

uint64_t DirtyTracker::digest_of(const DirtyPages& set) const {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  set.for_each([&](uint32_t slot, uint64_t page) {
    const auto& region = ram_.regions()[slot];
    uint64_t gpa = region.gpa + page * DirtyLog::kPageSize;
    XXH3_64bits_update(st, &gpa, sizeof gpa);
    XXH3_64bits_update(st, region.host + page * DirtyLog::kPageSize, DirtyLog::kPageSize);
  });
  uint64_t d = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return d;
}

void DirtyTracker::reset() {
  collect();  // drop what KVM holds too, so the next interval starts empty
  interval_.clear();
}

}  // namespace rrvm
