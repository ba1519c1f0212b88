#include "vmm/page_store.h"

#include <sys/mman.h>
#include <xxhash.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace rrvm {

namespace {
const uint8_t kZeros[PageStore::kPageSize] = {};
// A libstdc++ unordered_multimap node and its bucket slot.
constexpr uint64_t kIndexEntryBytes = 40;
}  // namespace

PageStore::PageStore() {
  meta_.push_back(Meta{XXH3_64bits(kZeros, kPageSize), 1});  // kZeroPage: no storage
}

PageStore::~PageStore() {
  for (uint8_t* s : slabs_) ::munmap(s, kSlabPages * kPageSize);
}

const uint8_t* PageStore::zeros() {
  return kZeros;
}

bool PageStore::is_zero(const uint8_t* bytes) {
  return std::memcmp(bytes, kZeros, kPageSize) == 0;
}

PageStore::PageId PageStore::put(const uint8_t* bytes) {
  if (is_zero(bytes)) return kZeroPage;
  uint64_t h = XXH3_64bits(bytes, kPageSize);
  auto [first, last] = by_hash_.equal_range(h);
  for (auto it = first; it != last; ++it) {
    if (std::memcmp(slot(it->second), bytes, kPageSize) == 0) {
      ref(it->second);
      return it->second;
    }
  }
  return allocate(bytes, h);
}

void PageStore::add_slab() {
  void* p = ::mmap(nullptr, kSlabPages * kPageSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  slabs_.push_back(static_cast<uint8_t*>(p));
  // Highest first, so that the slab's pages are handed out in order.
  PageId first = static_cast<PageId>(meta_.size());
  meta_.resize(meta_.size() + kSlabPages);
  for (size_t i = kSlabPages; i-- > 0;) free_.push_back(first + static_cast<PageId>(i));
}

PageStore::PageId PageStore::allocate(const uint8_t* bytes, uint64_t hash) {
  if (free_.empty()) add_slab();
  PageId id = free_.back();
  free_.pop_back();
  std::memcpy(slot(id), bytes, kPageSize);
  meta_[id] = Meta{hash, 1};
  by_hash_.emplace(hash, id);
  ++live_;
  return id;
}

void PageStore::ref(PageId id) {
  if (id != kZeroPage) ++meta_[id].refs;
}

void PageStore::unref(PageId id) {
  if (id == kZeroPage) return;
  if (meta_[id].refs == 0) throw std::logic_error("PageStore: page freed twice");
  if (--meta_[id].refs > 0) return;
  auto [first, last] = by_hash_.equal_range(meta_[id].hash);
  for (auto it = first; it != last; ++it) {
    if (it->second == id) {
      by_hash_.erase(it);
      break;
    }
  }
  free_.push_back(id);
  --live_;
}

uint64_t PageStore::bytes_used() const {
  return slabs_.size() * kSlabPages * kPageSize + live_ * kIndexEntryBytes +
         meta_.capacity() * sizeof(Meta) + free_.capacity() * sizeof(PageId);
}

}  // namespace rrvm
