#include "vmm/page_trap.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "devices/hex.h"

namespace rrvm {

PageTrap::PageTrap(KvmVm& vm, GuestRam& ram, std::vector<uint64_t> pages)
    : vm_(vm), ram_(ram), pages_(std::move(pages)) {
  std::sort(pages_.begin(), pages_.end());
  pages_.erase(std::unique(pages_.begin(), pages_.end()), pages_.end());
  if (pages_.size() > kMaxPages)
    throw std::invalid_argument("cannot trap " + std::to_string(pages_.size()) +
                                " pages (at most " + std::to_string(kMaxPages) + ")");
  for (uint64_t p : pages_) {
    if (p % kPage || !ram_.host_ptr(p, kPage))
      throw std::invalid_argument("cannot trap " + hex(p) + ": not a page of guest RAM");
  }
  try {
    map_pieces();
  } catch (...) {
    unmap_pieces();  // the RAM mapped whole again, as far as KVM lets it
    throw;
  }
}

PageTrap::~PageTrap() {
  try {
    unmap_pieces();
  } catch (const std::exception& e) {
    // Nothing to throw to; the next KVM_RUN or dirty-log read reports the
    // broken memory map as a KVM error.
    std::fprintf(stderr, "rrvm: could not map trapped guest pages again: %s\n", e.what());
  }
}

// Each region holding trapped pages: its slot out, the stretches between
// the pages in as slots of their own. KVM's dirty bits of the region's slot
// are fetched first: deleting the slot drops them.
void PageTrap::map_pieces() {
  DirtyLog* log = ram_.dirty_log();
  if (log) log->sync();
  const auto& regions = ram_.regions();
  uint32_t slot = kFirstPieceSlot;
  for (uint32_t r = 0; r < regions.size(); ++r) {
    const GuestRam::Region& reg = regions[r];
    uint64_t start = reg.gpa;
    bool any = false;
    for (uint64_t p : pages_) {
      if (p < reg.gpa || p >= reg.gpa + reg.size) continue;
      if (!any) {
        vm_.set_memory_region(r, reg.gpa, 0, reg.host, false);
        regions_.push_back(r);
      }
      any = true;
      if (p > start) pieces_.push_back({slot++, r, start, p - start});
      start = p + kPage;
    }
    if (!any) continue;
    if (start < reg.gpa + reg.size)
      pieces_.push_back({slot++, r, start, reg.gpa + reg.size - start});
  }
  for (const Piece& piece : pieces_) {
    const GuestRam::Region& reg = regions[piece.region];
    vm_.set_memory_region(piece.slot, piece.gpa, piece.size, reg.host + (piece.gpa - reg.gpa),
                          log != nullptr);
    ++mapped_;
  }
}

void PageTrap::unmap_pieces() {
  DirtyLog* log = ram_.dirty_log();
  const auto& regions = ram_.regions();
  std::vector<uint64_t> bits;
  for (size_t i = 0; i < mapped_; ++i) {
    const Piece& piece = pieces_[i];
    const GuestRam::Region& reg = regions[piece.region];
    if (log) {
      uint64_t pages = piece.size / kPage;
      bits.assign((pages + 63) / 64, 0);
      vm_.get_dirty_log(piece.slot, bits);
      uint64_t first = (piece.gpa - reg.gpa) / kPage;
      for (uint64_t p = 0; p < pages; ++p) {
        if (bits[p / 64] >> (p % 64) & 1) log->mark_guest_write(piece.region, first + p, 1);
      }
    }
    vm_.set_memory_region(piece.slot, piece.gpa, 0, reg.host + (piece.gpa - reg.gpa), false);
  }
  mapped_ = 0;
  for (uint32_t r : regions_)
    vm_.set_memory_region(r, regions[r].gpa, regions[r].size, regions[r].host, log != nullptr);
  regions_.clear();
}

bool PageTrap::holds(uint64_t gpa) const {
  return std::binary_search(pages_.begin(), pages_.end(), gpa & ~(kPage - 1));
}

bool PageTrap::complete(kvm_run& run) {
  if (run.exit_reason != KVM_EXIT_MMIO) return false;
  uint64_t gpa = run.mmio.phys_addr;
  uint32_t len = run.mmio.len;
  if (len == 0 || len > sizeof run.mmio.data || !holds(gpa) || !holds(gpa + len - 1)) return false;
  int r = ram_.region_of(gpa, len);
  if (r < 0) return false;
  const GuestRam::Region& reg = ram_.regions()[r];
  uint8_t* p = reg.host + (gpa - reg.gpa);
  ++completed_;
  if (!run.mmio.is_write) {
    std::memcpy(run.mmio.data, p, len);
    return true;
  }
  // Through the host mapping, not GuestRam::write: this is the guest's own
  // write, which the dirty log's guest-write consumers must see.
  std::memcpy(p, run.mmio.data, len);
  if (DirtyLog* log = ram_.dirty_log()) {
    uint64_t first = (gpa - reg.gpa) / kPage, last = (gpa + len - 1 - reg.gpa) / kPage;
    log->mark_guest_write(r, first, last - first + 1);
  }
  return true;
}

}  // namespace rrvm
