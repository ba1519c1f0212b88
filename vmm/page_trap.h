// Guest pages taken out of KVM's memory map for a while, so that every guest
// access to them leaves KVM as an MMIO exit (KVM_EXIT_MMIO) before the
// instruction completes: RIP and the registers are still those before it,
// and the VMM sees the physical address, whatever linear address the guest
// used. Bisect runs both machines this way to the first instruction that
// touches memory where they differ, instead of single-stepping to it.
//
// KVM has no per-page trap for reads, only memslots: the slot holding the
// pages is replaced by slots around them (api.rst, KVM_SET_USER_MEMORY_REGION;
// an access to a guest physical address no slot maps is emulated as MMIO)
// and put back whole afterwards. The guest's writes meanwhile (KVM's dirty
// log of the pieces, and those completed here) reach the RAM's DirtyLog as
// guest writes, so digests and checkpoints after it see them.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "vmm/guest_ram.h"
#include "vmm/kvm.h"

namespace rrvm {

class PageTrap {
 public:
  static constexpr uint64_t kPage = 4096;
  static constexpr size_t kMaxPages = 64;  // each costs a memslot

  // Traps `pages` (page-aligned guest physical addresses inside RAM).
  // Throws std::invalid_argument for another address or more than kMaxPages.
  PageTrap(KvmVm& vm, GuestRam& ram, std::vector<uint64_t> pages);
  ~PageTrap();
  PageTrap(const PageTrap&) = delete;
  PageTrap& operator=(const PageTrap&) = delete;

  bool holds(uint64_t gpa) const;
  // Completes the MMIO exit in `run` on trapped pages from RAM: a read gets
  // RAM's bytes, a write is stored (as the guest's write). False, and
  // nothing done, for an access that is not all on trapped pages.
  bool complete(kvm_run& run);
  const std::vector<uint64_t>& pages() const { return pages_; }
  uint64_t completed() const { return completed_; }  // accesses complete() served

 private:
  struct Piece {
    uint32_t slot;
    uint32_t region;
    uint64_t gpa, size;
  };
  static constexpr uint32_t kFirstPieceSlot = 16;  // past GuestRam's slots

  void map_pieces();
  void unmap_pieces();

  KvmVm& vm_;
  GuestRam& ram_;
  std::vector<uint64_t> pages_;    // sorted
  std::vector<uint32_t> regions_;  // the RAM slots taken out
  std::vector<Piece> pieces_;
  size_t mapped_ = 0;  // pieces_[0, mapped_) are KVM memslots
  uint64_t completed_ = 0;
};

}  // namespace rrvm
