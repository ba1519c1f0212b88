// Guest pages kept for checkpoints, stored once per distinct content:
// a page that several checkpoints hold with the same bytes (the guest
// rewrote it with what it had, or two checkpoints share it after one was
// dropped) costs 4 KiB once. Pages are reference-counted; the all-zero
// page is kZeroPage and costs nothing.
//
// Pages live in 1 MiB slabs mapped from the kernel, and a freed page's
// slot is the next one used: fresh memory costs a page fault on first
// touch, which dominates a checkpoint's cost on a nested host (about
// 4 us, against 9 us for a malloc'd page; checkpoint_bench).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace rrvm {

class PageStore {
 public:
  static constexpr size_t kPageSize = 4096;
  using PageId = uint32_t;
  static constexpr PageId kZeroPage = 0;

  PageStore();
  PageStore(const PageStore&) = delete;
  PageStore& operator=(const PageStore&) = delete;

  // A reference to a page holding these kPageSize bytes: an existing one
  // with the same contents, or a new copy.
  PageId put(const uint8_t* bytes);
  void ref(PageId id);
  // Drops a reference; the page is freed with its last one.
  void unref(PageId id);

  const uint8_t* bytes(PageId id) const { return id == kZeroPage ? zeros() : slot(id); }
  // xxh3-64 of the contents (kZeroPage included).
  uint64_t hash(PageId id) const { return meta_[id].hash; }
  uint32_t refs(PageId id) const { return meta_[id].refs; }

  // Distinct stored pages, kZeroPage not counted.
  size_t pages() const { return live_; }
  // Bytes the store holds: its slabs (free slots included) and its
  // bookkeeping (the hash index's nodes estimated).
  uint64_t bytes_used() const;

  static bool is_zero(const uint8_t* bytes);
  ~PageStore();

 private:
  static constexpr size_t kSlabPages = 256;
  struct Meta {
    uint64_t hash = 0;
    uint32_t refs = 0;
  };

  static const uint8_t* zeros();
  uint8_t* slot(PageId id) const {
    return slabs_[(id - 1) / kSlabPages] + (id - 1) % kSlabPages * kPageSize;
  }
  PageId allocate(const uint8_t* bytes, uint64_t hash);
  void add_slab();

  std::vector<uint8_t*> slabs_;
  std::vector<Meta> meta_;  // by PageId
  std::vector<PageId> free_;
  std::unordered_multimap<uint64_t, PageId> by_hash_;
  size_t live_ = 0;
};

}  // namespace rrvm
