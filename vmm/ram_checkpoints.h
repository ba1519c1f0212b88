// Guest RAM at checkpoints, stored incrementally: a checkpoint holds only
// the pages that differ from its parent (the checkpoint the RAM was taken
// from or last restored to), so it costs what the guest wrote since, not
// the RAM size. The checkpoints form a tree (restore an old one, run on,
// take a new one: a new branch); a page's contents at a checkpoint are in
// the nearest delta up the tree that has it, else zero.
//
// Which pages changed comes from the RAM's dirty log (vmm/dirty_log.h),
// the guest's writes and the VMM's (DMA, loader) alike. Restoring writes
// back only the pages that can differ: those written since the current
// basis plus those in the deltas between the basis and the target.
//
// Each checkpoint also carries a digest of the whole RAM, kept
// incrementally: the sum over nonzero pages of a hash of (page number,
// contents hash). Equal RAM gives equal digests whatever the path to it.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "vmm/dirty_log.h"
#include "vmm/guest_ram.h"
#include "vmm/page_store.h"

namespace rrvm {

class RamCheckpoints {
 public:
  using Id = uint32_t;

  // Subscribes to `ram`'s dirty log. Must exist before the first write to
  // the RAM (a Machine creates it before loading the guest): pages never
  // written since are known to be zero. Throws std::logic_error if the RAM
  // has no dirty log or was written already.
  explicit RamCheckpoints(GuestRam& ram);
  RamCheckpoints(const RamCheckpoints&) = delete;
  RamCheckpoints& operator=(const RamCheckpoints&) = delete;
  ~RamCheckpoints();

  // The RAM now. Costs the pages written since the basis.
  Id take();
  // Puts the RAM back as it was at `id`; `id` becomes the basis. Returns
  // the number of pages written back.
  size_t restore(Id id);
  // Forgets `id`: its children take over the pages they inherited from it
  // (shared, not copied), so what they hold does not change.
  void drop(Id id);

  bool contains(Id id) const { return nodes_.count(id) != 0; }
  uint64_t digest(Id id) const { return node(id).digest; }
  // The RAM digest now, without storing anything.
  uint64_t digest_now();
  // Pages `id` stores itself (differing from its parent).
  size_t delta_pages(Id id) const { return node(id).delta.size(); }
  // Checkpoints whose parent is `id`.
  size_t children(Id id) const;
  // Bytes held: the page store and the delta tables.
  uint64_t bytes_used() const;
  const PageStore& store() const { return store_; }
  size_t count() const { return nodes_.size(); }

 private:
  // A page by its number across all regions (region 0 first).
  using PageNo = uint32_t;
  struct Entry {
    PageNo page;
    PageStore::PageId id;
  };
  struct Node {
    std::optional<Id> parent;
    std::vector<Entry> delta;  // sorted by page
    uint64_t digest = 0;
  };

  const Node& node(Id id) const;
  PageStore::PageId lookup(Id at, PageNo page) const;
  std::vector<PageNo> pages_between(std::optional<Id> a, Id b) const;
  std::vector<PageNo> dirty_pages() const;
  uint8_t* host(PageNo page) const;
  uint64_t contribution(PageNo page, PageStore::PageId id) const;
  static uint64_t contribution(PageNo page, const uint8_t* bytes);
  void mark_dirty(PageNo page);

  GuestRam& ram_;
  std::vector<PageNo> region_first_;  // first PageNo of each region
  DirtyPages dirty_;                  // written since the basis
  PageStore store_;
  std::unordered_map<Id, Node> nodes_;
  std::optional<Id> basis_;
  Id next_id_ = 0;
};

}  // namespace rrvm
