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
  if (p == MAP_FAILED) {
    throw std::runtime_error("cannot map " + std::to_string(size >> 20) +
                             " MiB of guest RAM: " + std::strerror(errno));
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
}

uint8_t* GuestRam::host_ptr(uint64_t gpa, uint64_t len) const {
  for (const auto& r : regions_) {
    if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa)) {
      return r.host + (gpa - r.gpa);
    }
  }
  return nullptr;
}

bool GuestRam::read(uint64_t gpa, std::span<uint8_t> out) const {
  const uint8_t* p = host_ptr(gpa, out.size());
  if (!p) return false;
  if (!out.empty()) std::memcpy(out.data(), p, out.size());
  return true;
}

bool GuestRam::write(uint64_t gpa, std::span<const uint8_t> in) {
  uint8_t* p = host_ptr(gpa, in.size());
  if (!p) return false;
  if (!in.empty()) std::memcpy(p, in.data(), in.size());
  return true;
}

}  // namespace rrvm
