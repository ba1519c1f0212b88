// Which guest pages the guest wrote since the last sync point, and a digest
// of their contents. Record and replay call collect()/reset() at the same
// points of the execution (landmarks and memory-digest checkpoints), so the
// page sets — and so the digests — agree exactly when the executions do.
//
// KVM_GET_DIRTY_LOG clears KVM's bitmap as it reads it; we OR every fetch
// into our own accumulated bitmap, so probing a landmark candidate several
// times (replay) loses nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "vmm/guest_ram.h"
#include "vmm/kvm.h"

namespace rrvm {

class DirtyTracker {
 public:
  // `ram` must be attached to `vm` with dirty logging on.
  DirtyTracker(KvmVm& vm, const GuestRam& ram);

  // Fetches KVM's dirty bitmaps into the accumulated set.
  void collect();
  // collect(), then xxh3-64 over (page address, page bytes) of every page in
  // the set, in address order. The set is unchanged.
  uint64_t digest();
  // xxh3-64 over every page the guest wrote since the tracker was made: the
  // end-of-run digest. Pages it never wrote hold what the loader put there,
  // which the trace's images determine, so this checks as much as a digest
  // of all of RAM at a fraction of the cost (no faulting in untouched memory).
  uint64_t run_digest();
  // Empties the set (a new interval starts).
  void reset();
  size_t pages() const;

 private:
  KvmVm& vm_;
  const GuestRam& ram_;
  std::vector<std::vector<uint64_t>> accumulated_;  // per region, 1 bit per page
  std::vector<std::vector<uint64_t>> run_;          // never reset: the whole run
  std::vector<uint64_t> scratch_;
  uint64_t digest_of(const std::vector<std::vector<uint64_t>>& set) const;
};

}  // namespace rrvm
