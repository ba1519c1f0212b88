#include "vmm/guest_ram.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "vmm/kvm.h"

namespace rrvm {

namespace {
uint8_t* map_anonymous(uint64_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  // The host's limits (ulimit -v, memory cgroups), not a bug: exit 69 with
  // a message naming the size, which a trace's "mem" or --mem chose.
  if (p == MAP_FAILED) {
    throw KvmUnavailable(
        "cannot map " + std::to_string(size >> 20) + " MiB of guest RAM: " + std::strerror(errno) +
        " (the machine's mem is larger than this " + "process may map: see ulimit -v)");
  }
  return static_cast<uint8_t*>(p);
}
}  // namespace

GuestRam::GuestRam(uint64_t size) {
  if (size < kMinSize || size > kMaxSize) {
    throw std::invalid_argument("guest memory size " + std::to_string(size >> 20) +
                                " MiB is outside the supported range 2 MiB .. 64 GiB");
  }
  if (size % kSizeAlign != 0)
    throw std::invalid_argument("guest memory size must be a multiple of 4 KiB");
  uint64_t low = size < kLowRamLimit ? size : kLowRamLimit;
  regions_.push_back({0, low, map_anonymous(low)});
  if (size > low) regions_.push_back({kHighRamBase, size - low, map_anonymous(size - low)});
  total_ = size;
}

GuestRam::~GuestRam() {
  for (auto& r : regions_) ::munmap(r.host, r.size);
}

void GuestRam::attach(KvmVm& vm, bool log_dirty) {
  for (size_t i = 0; i < regions_.size(); ++i) {
    vm.set_memory_region(static_cast<uint32_t>(i), regions_[i].gpa, regions_[i].size,
                         regions_[i].host, log_dirty);
  }
  if (log_dirty) {
    enable_dirty_log(
        [&vm](uint32_t slot, std::span<uint64_t> bitmap) { vm.get_dirty_log(slot, bitmap); });
  }
}

void GuestRam::enable_dirty_log(DirtyLog::Fetch fetch) {
  std::vector<uint64_t> pages;
  for (const auto& r : regions_) pages.push_back(r.size / DirtyLog::kPageSize);
  dirty_log_ = std::make_unique<DirtyLog>(std::move(pages), std::move(fetch));
}

int GuestRam::region_of(uint64_t gpa, uint64_t len) const {
  for (size_t i = 0; i < regions_.size(); ++i) {
    const Region& r = regions_[i];
    if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

const uint8_t* GuestRam::host_ptr(uint64_t gpa, uint64_t len) const {
  int i = region_of(gpa, len);
  return i < 0 ? nullptr : regions_[i].host + (gpa - regions_[i].gpa);
}

bool GuestRam::read(uint64_t gpa, std::span<uint8_t> out) const {
  const uint8_t* p = host_ptr(gpa, out.size());
  if (!p) return false;
  if (!out.empty()) std::memcpy(out.data(), p, out.size());
  return true;
}

bool GuestRam::write(uint64_t gpa, std::span<const uint8_t> in) {
  int i = region_of(gpa, in.size());
  if (i < 0) return false;
  if (in.empty()) return true;
  uint64_t offset = gpa - regions_[i].gpa;
  std::memcpy(regions_[i].host + offset, in.data(), in.size());
  written_ = true;
  if (dirty_log_) {
    uint64_t first = offset / DirtyLog::kPageSize;
    uint64_t last = (offset + in.size() - 1) / DirtyLog::kPageSize;
    dirty_log_->mark_host_write(static_cast<uint32_t>(i), first, last - first + 1);
  }
  return true;
}

}  // namespace rrvm
