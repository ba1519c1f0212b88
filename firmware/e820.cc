#include "firmware/e820.h"

#include <algorithm>

namespace rrvm {

std::vector<E820Entry> build_e820(uint64_t ram_size) {
  std::vector<E820Entry> map;
  uint64_t conventional = std::min(ram_size, kEbdaStart);
  if (conventional) map.push_back({0, conventional, kE820Ram});
  map.push_back({kEbdaStart, kEbdaEnd - kEbdaStart, kE820Reserved});
  map.push_back({kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart, kE820Reserved});
  uint64_t low_end = std::min(ram_size, kLowRamLimit);
  if (low_end > kHighMemStart) map.push_back({kHighMemStart, low_end - kHighMemStart, kE820Ram});
  map.push_back({kIoApicBase, kApicPageSize, kE820Reserved});
  map.push_back({kLapicBase, kApicPageSize, kE820Reserved});
  if (ram_size > kLowRamLimit) map.push_back({kHighRamBase, ram_size - kLowRamLimit, kE820Ram});
  return map;
}

std::vector<uint8_t> e820_bytes(const std::vector<E820Entry>& map) {
  std::vector<uint8_t> out;
  out.reserve(map.size() * kE820EntryBytes);
  auto put = [&out](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  for (const E820Entry& e : map) {
    put(e.addr, 8);
    put(e.size, 8);
    put(e.type, 4);
  }
  return out;
}

bool e820_contains(const std::vector<E820Entry>& map, uint64_t addr, uint64_t len, uint32_t type) {
  return std::any_of(map.begin(), map.end(), [&](const E820Entry& e) {
    return e.type == type && addr >= e.addr && addr - e.addr <= e.size &&
           len <= e.size - (addr - e.addr);
  });
}

uint64_t e820_usable_at(const std::vector<E820Entry>& map, uint64_t addr) {
  for (const E820Entry& e : map) {
    if (e.type == kE820Ram && e.addr == addr) return e.size;
  }
  return 0;
}

}  // namespace rrvm
