#include "vmm/bus.h"

#include "devices/hex.h"

#include <cstdio>

namespace rrvm {

void Bus::add(uint64_t base, uint64_t size, IoDevice& dev) {
  if (size == 0 || base + size < base) {
    throw BusError(name_ + ": bad range " + hex(base) + "+" + hex(size) + " for " +
                   std::string(dev.name()));
  }
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first < base + size) {
    throw BusError(name_ + ": " + std::string(dev.name()) + " at " + hex(base) + " overlaps " +
                   std::string(next->second.dev->name()) + " at " + hex(next->first));
  }
  if (next != ranges_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size > base) {
      throw BusError(name_ + ": " + std::string(dev.name()) + " at " + hex(base) + " overlaps " +
                     std::string(prev->second.dev->name()) + " at " + hex(prev->first));
    }
  }
  ranges_.emplace(base, Range{size, &dev});
}

bool Bus::remove(uint64_t base) {
  return ranges_.erase(base) > 0;
}

Bus::Hit Bus::find(uint64_t addr, uint64_t len) const {
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return {nullptr, 0};
  --it;
  uint64_t offset = addr - it->first;
  if (offset >= it->second.size || len > it->second.size - offset) return {nullptr, 0};
  return {it->second.dev, offset};
}

bool Bus::read(uint64_t addr, std::span<uint8_t> data) const {
  Hit h = find(addr, data.size());
  if (!h.dev) return false;
  h.dev->read(h.offset, data);
  return true;
}

bool Bus::write(uint64_t addr, std::span<const uint8_t> data) const {
  Hit h = find(addr, data.size());
  if (!h.dev) return false;
  h.dev->write(h.offset, data);
  return true;
}

}  // namespace rrvm
