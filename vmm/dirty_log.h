// The one reader of KVM's dirty log, fanning it out to every consumer.
//
// KVM_GET_DIRTY_LOG clears KVM's bitmap as it reads it, so two consumers
// reading it directly (the replay digests and the checkpoints) would each
// see only the pages the other had not fetched yet. Here every fetch is
// ORed into each live DirtyPages, and each consumer clears only its own set.
//
// KVM logs only the guest's own writes. Writes the VMM makes (the loader,
// device DMA through GuestRam::write) reach the consumers that ask for them
// through mark_host_write(); the replay digests do not, because traces
// recorded before this existed digest guest writes only.
#pragma once

#include <bit>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace rrvm {

class DirtyPages;

class DirtyLog {
 public:
  static constexpr uint64_t kPageSize = 4096;
  // Reads and clears KVM's bitmap of one memslot (KvmVm::get_dirty_log).
  using Fetch = std::function<void(uint32_t slot, std::span<uint64_t> bitmap)>;

  // One entry per memslot (slot = index): its size in pages.
  DirtyLog(std::vector<uint64_t> slot_pages, Fetch fetch);
  DirtyLog(const DirtyLog&) = delete;
  DirtyLog& operator=(const DirtyLog&) = delete;

  // Fetches KVM's bitmaps into every subscriber.
  void sync();
  // The VMM wrote pages [first, first + count) of `slot`.
  void mark_host_write(uint32_t slot, uint64_t first, uint64_t count);
  // The guest wrote them where KVM's log of `slot` could not see it (the
  // page was out of the slot for a while: vmm/page_trap.h).
  void mark_guest_write(uint32_t slot, uint64_t first, uint64_t count);
  const std::vector<uint64_t>& slot_pages() const { return slot_pages_; }

 private:
  friend class DirtyPages;
  void add(DirtyPages* p);
  void remove(DirtyPages* p);

  std::vector<uint64_t> slot_pages_;
  Fetch fetch_;
  std::vector<DirtyPages*> subscribers_;
  std::vector<uint64_t> scratch_;
};

// One consumer's set of written pages: everything written since it was
// made or last cleared. Syncs the log on construction, so it starts empty.
// The log must outlive it.
class DirtyPages {
 public:
  using Bits = std::vector<std::vector<uint64_t>>;  // per slot, 1 bit per page

  DirtyPages(DirtyLog& log, bool host_writes);
  DirtyPages(const DirtyPages&) = delete;
  DirtyPages& operator=(const DirtyPages&) = delete;
  ~DirtyPages();

  // Brings the set up to date (DirtyLog::sync()).
  void collect() { log_.sync(); }
  void clear();
  // Adds one page by hand (a consumer that knows it changed).
  void add(uint32_t slot, uint64_t page) { mark(slot, page, 1); }
  // The set itself, to save with a checkpoint and put back after restoring
  // it (a replay's digest interval must be what it was there).
  const Bits& bits() const { return bits_; }
  // Throws std::invalid_argument for a set of another shape.
  void assign(const Bits& bits);
  size_t count() const;
  bool test(uint32_t slot, uint64_t page) const {
    return (bits_[slot][page / 64] >> (page % 64)) & 1;
  }
  // fn(slot, page) for every page in the set, in slot and address order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (uint32_t slot = 0; slot < bits_.size(); ++slot) {
      const auto& words = bits_[slot];
      for (size_t w = 0; w < words.size(); ++w) {
        for (uint64_t word = words[w]; word; word &= word - 1) {
          fn(slot, w * 64 + static_cast<uint64_t>(std::countr_zero(word)));
        }
      }
    }
  }

 private:
  friend class DirtyLog;
  void merge(uint32_t slot, std::span<const uint64_t> words);
  void mark(uint32_t slot, uint64_t first, uint64_t count);

  DirtyLog& log_;
  bool host_writes_;
  Bits bits_;
};

}  // namespace rrvm
