#include "firmware/e820.h"

namespace rrvm {

std::vector<E820Entry> build_e820(uint64_t ram_size) {
  std::vector<E820Entry> map = {
      {0, kEbdaStart, kE820Ram},
      {kEbdaStart, 0xA0000 - kEbdaStart, kE820Reserved},
      {kBiosAreaStart, 0x100000 - kBiosAreaStart, kE820Reserved},
  };
  uint64_t low_end = ram_size < kLowRamLimit ? ram_size : kLowRamLimit;
  if (low_end > 0x100000) map.push_back({0x100000, low_end - 0x100000, kE820Ram});
  map.push_back({0xFEC00000, 0x1000, kE820Reserved});  // IOAPIC
  map.push_back({0xFEE00000, 0x1000, kE820Reserved});  // LAPIC
  if (ram_size > kLowRamLimit) map.push_back({kHighRamBase, ram_size - kLowRamLimit, kE820Ram});
  return map;
}

}  // namespace rrvm
