// Guest RAM: anonymous host mappings registered with KVM as memslots.
// RAM above 3 GiB is split around the PCI/APIC hole: [0, 3 GiB) stays low and
// the rest starts at 4 GiB, as on a PC. All accessors are bounds-checked.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "devices/guest_memory.h"
#include "vmm/dirty_log.h"

namespace rrvm {

class KvmVm;

class GuestRam final : public GuestMemory {
 public:
  static constexpr uint64_t kLowRamLimit = 0xC0000000;  // start of the MMIO hole
  static constexpr uint64_t kHighRamBase = 0x100000000;
  static constexpr uint64_t kMinSize = 2ull << 20;  // guests load at 1 MiB
  static constexpr uint64_t kMaxSize = 64ull << 30;
  static constexpr uint64_t kSizeAlign = 4096;  // memslots are whole pages

  struct Region {
    uint64_t gpa;
    uint64_t size;
    uint8_t* host;
  };

  // Throws std::invalid_argument for a size outside [kMinSize, kMaxSize] or
  // not a multiple of 4 KiB, std::runtime_error if the mapping fails.
  explicit GuestRam(uint64_t size);
  ~GuestRam() override;
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  // Registers every region as a memslot (slot = region index); with
  // log_dirty, KVM logs the guest's writes and dirty_log() reads them.
  void attach(KvmVm& vm, bool log_dirty);
  // The dirty log over these regions (attach() calls it with KVM's; unit
  // tests pass their own). From here on write() reports the VMM's writes.
  void enable_dirty_log(DirtyLog::Fetch fetch);
  // Null unless enabled. Consumers subscribe with DirtyPages; the log is
  // not part of RAM's contents, hence available through a const RAM.
  DirtyLog* dirty_log() const { return dirty_log_.get(); }

  bool read(uint64_t gpa, std::span<uint8_t> out) const override;
  bool write(uint64_t gpa, std::span<const uint8_t> in) override;
  uint64_t size() const override { return total_; }

  // Host pointer for [gpa, gpa + len) if it lies inside one region, else
  // null. Read-only: writes go through write(), which the dirty log sees.
  const uint8_t* host_ptr(uint64_t gpa, uint64_t len) const;
  const std::vector<Region>& regions() const { return regions_; }
  // Whether write() stored anything yet.
  bool written() const { return written_; }
  // The region (and memslot) holding all of [gpa, gpa + len), or -1.
  int region_of(uint64_t gpa, uint64_t len) const;

 private:
  std::vector<Region> regions_;
  uint64_t total_ = 0;
  std::unique_ptr<DirtyLog> dirty_log_;
  bool written_ = false;
};

}  // namespace rrvm
