#include "replay/memory_diff.h"

#include <sys/mman.h>

#include <cstring>

namespace rrvm {

namespace {

constexpr uint64_t kPage = DifferingMemory::kPage;

// mincore(2) of a guest RAM mapping: bit 0 of each byte says whether the
// page is resident. Empty on failure (then every page is compared).
std::vector<unsigned char> resident(void* host, uint64_t size) {
  std::vector<unsigned char> v((size + kPage - 1) / kPage);
  if (::mincore(host, size, v.data()) != 0) return {};
  return v;
}

bool touched(const std::vector<unsigned char>& v, size_t page) {
  return page >= v.size() || (v[page] & 1);
}

}  // namespace

void for_each_differing_page(const GuestRam& a, const GuestRam& b,
                             const std::function<bool(uint64_t gpa)>& fn) {
  uint64_t size = std::min(a.size(), b.size());
  for (size_t r = 0; r < a.regions().size() && r < b.regions().size(); ++r) {
    const GuestRam::Region& ra = a.regions()[r];
    const GuestRam::Region& rb = b.regions()[r];
    std::vector<unsigned char> in_a = resident(ra.host, ra.size), in_b = resident(rb.host, ra.size);
    for (uint64_t off = 0; off < ra.size && off < rb.size && ra.gpa + off < size; off += kPage) {
      size_t page = off / kPage;
      if (!touched(in_a, page) && !touched(in_b, page)) continue;
      if (std::memcmp(ra.host + off, rb.host + off, kPage) == 0) continue;
      if (!fn(ra.gpa + off)) return;
    }
  }
}

std::optional<DifferingMemory> DifferingMemory::between(const GuestRam& a, const GuestRam& b,
                                                        size_t max_pages) {
  std::map<uint64_t, std::bitset<kPage>> bytes;
  bool over = false;
  for_each_differing_page(a, b, [&](uint64_t gpa) {
    if (bytes.size() == max_pages) {
      over = true;
      return false;
    }
    const uint8_t* pa = a.host_ptr(gpa, kPage);
    const uint8_t* pb = b.host_ptr(gpa, kPage);
    std::bitset<kPage>& mask = bytes[gpa];
    for (uint64_t i = 0; i < kPage; ++i) mask[i] = pa[i] != pb[i];
    return true;
  });
  if (over) return std::nullopt;
  return DifferingMemory(std::move(bytes));
}

std::vector<uint64_t> DifferingMemory::pages() const {
  std::vector<uint64_t> out;
  for (const auto& [page, mask] : bytes_) out.push_back(page);
  return out;
}

bool DifferingMemory::touches(uint64_t gpa, uint64_t len) const {
  for (uint64_t a = gpa; a < gpa + len; ++a) {
    auto it = bytes_.find(a & ~(kPage - 1));
    if (it != bytes_.end() && it->second[a & (kPage - 1)]) return true;
  }
  return false;
}

}  // namespace rrvm
