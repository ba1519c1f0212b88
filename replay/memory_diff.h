// Where two machines' guest RAM differs: the pages (bisect names them in
// its report) and, over few pages, the bytes (bisect's run to the first
// instruction that touches them, replay/first_touch.h).
#pragma once

#include <bitset>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "vmm/guest_ram.h"

namespace rrvm {

// fn(gpa) for every page whose contents differ between `a` and `b`, in
// address order, while fn returns true. Pages neither side ever touched
// (not resident in either host mapping) read as zero on both and are
// skipped without being faulted in: most of a large guest.
void for_each_differing_page(const GuestRam& a, const GuestRam& b,
                             const std::function<bool(uint64_t gpa)>& fn);

class DifferingMemory {
 public:
  static constexpr uint64_t kPage = 4096;

  // The bytes that differ; nullopt when they lie in more than `max_pages` pages.
  static std::optional<DifferingMemory> between(const GuestRam& a, const GuestRam& b,
                                                size_t max_pages);
  // From per-page masks (unit tests).
  explicit DifferingMemory(std::map<uint64_t, std::bitset<kPage>> bytes)
      : bytes_(std::move(bytes)) {}

  bool empty() const { return bytes_.empty(); }
  std::vector<uint64_t> pages() const;
  // Whether [gpa, gpa + len) holds a differing byte.
  bool touches(uint64_t gpa, uint64_t len) const;

 private:
  std::map<uint64_t, std::bitset<kPage>> bytes_;  // by page address
};

}  // namespace rrvm
