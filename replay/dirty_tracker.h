// Which guest pages the guest wrote since the last sync point, and a digest
// of their contents. Record and replay call collect()/reset() at the same
// points of the execution (landmarks and memory-digest checkpoints), so the
// page sets — and so the digests — agree exactly when the executions do.
//
// The pages come from the RAM's DirtyLog (vmm/dirty_log.h), which owns
// KVM_GET_DIRTY_LOG and shares it with the machine checkpoints; probing a
// landmark candidate several times (replay) loses nothing. Guest writes
// only, as in every trace recorded so far: the VMM's own writes (device
// DMA) are not part of these digests.
#pragma once

#include <cstdint>
#include <vector>

#include "vmm/dirty_log.h"
#include "vmm/guest_ram.h"

namespace rrvm {

class DirtyTracker {
 public:
  // `ram` must have its dirty log (GuestRam::attach with log_dirty, or a
  // fake's through enable_dirty_log); throws std::logic_error otherwise.
  explicit DirtyTracker(const GuestRam& ram);

  // Fetches KVM's dirty bitmaps into the accumulated set.
  void collect() { interval_.collect(); }
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
  size_t pages() const { return interval_.count(); }
  // The set of the current interval, for a machine checkpoint: restoring
  // one must also put back the interval its digests continue from.
  const DirtyPages::Bits& interval() const { return interval_.bits(); }
  void set_interval(const DirtyPages::Bits& bits) { interval_.assign(bits); }

  // Both sets, for a replay checkpoint: after restoring one, the interval
  // digests and the end-of-run digest go on as from there. Restore after
  // the RAM (its restore syncs the log into these sets).
  struct State {
    DirtyPages::Bits interval, run;
  };
  State save() {
    collect();
    return {interval_.bits(), run_.bits()};
  }
  void restore(const State& s) {
    collect();
    interval_.assign(s.interval);
    run_.assign(s.run);
  }

 private:
  uint64_t digest_of(const DirtyPages& set) const;

  const GuestRam& ram_;
  DirtyPages interval_;
  DirtyPages run_;  // never reset: the whole run
};

}  // namespace rrvm
