#include "vmm/ram_checkpoints.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace rrvm {

namespace {
constexpr uint64_t kPage = PageStore::kPageSize;

DirtyLog& log_of(const GuestRam& ram) {
  if (!ram.dirty_log()) throw std::logic_error("RamCheckpoints: guest RAM has no dirty log");
  if (ram.written()) {
    throw std::logic_error(
        "RamCheckpoints: made after guest RAM was written; its pages are unknown");
  }
  return *ram.dirty_log();
}

// Deltas are sorted by page: merge `add` into `into`, `into` winning ties.
template <class Entry>
std::vector<Entry> merge_under(const std::vector<Entry>& into, const std::vector<Entry>& add,
                               std::vector<Entry>* inherited) {
  std::vector<Entry> out;
  out.reserve(into.size() + add.size());
  size_t i = 0, j = 0;
  while (i < into.size() || j < add.size()) {
    if (j == add.size() || (i < into.size() && into[i].page <= add[j].page)) {
      if (j < add.size() && into[i].page == add[j].page) ++j;
      out.push_back(into[i++]);
    } else {
      inherited->push_back(add[j]);
      out.push_back(add[j++]);
    }
  }
  return out;
}
}  // namespace

RamCheckpoints::RamCheckpoints(GuestRam& ram) : ram_(ram), dirty_(log_of(ram), true) {
  PageNo first = 0;
  for (const auto& r : ram.regions()) {
    region_first_.push_back(first);
    first += static_cast<PageNo>(r.size / kPage);
  }
}

RamCheckpoints::~RamCheckpoints() {
  for (auto& [id, n] : nodes_) {
    for (const Entry& e : n.delta) store_.unref(e.id);
  }
}

const RamCheckpoints::Node& RamCheckpoints::node(Id id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::out_of_range("no RAM checkpoint " + std::to_string(id));
  return it->second;
}

uint8_t* RamCheckpoints::host(PageNo page) const {
  size_t r = std::upper_bound(region_first_.begin(), region_first_.end(), page) -
             region_first_.begin() - 1;
  return ram_.regions()[r].host + uint64_t{page - region_first_[r]} * kPage;
}

void RamCheckpoints::mark_dirty(PageNo page) {
  size_t r = std::upper_bound(region_first_.begin(), region_first_.end(), page) -
             region_first_.begin() - 1;
  dirty_.add(static_cast<uint32_t>(r), page - region_first_[r]);
}

std::vector<RamCheckpoints::PageNo> RamCheckpoints::dirty_pages() const {
  std::vector<PageNo> pages;
  dirty_.for_each([&](uint32_t slot, uint64_t page) {
    pages.push_back(region_first_[slot] + static_cast<PageNo>(page));
  });
  return pages;
}

PageStore::PageId RamCheckpoints::lookup(Id at, PageNo page) const {
  for (std::optional<Id> id = at; id;) {
    const Node& n = node(*id);
    auto it = std::lower_bound(n.delta.begin(), n.delta.end(), page,
                               [](const Entry& e, PageNo p) { return e.page < p; });
    if (it != n.delta.end() && it->page == page) return it->id;
    id = n.parent;
  }
  return PageStore::kZeroPage;  // never written since the RAM was mapped
}

uint64_t RamCheckpoints::contribution(PageNo page, PageStore::PageId id) const {
  if (id == PageStore::kZeroPage) return 0;
  uint64_t h = store_.hash(id);
  return XXH3_64bits_withSeed(&h, sizeof h, page);
}

uint64_t RamCheckpoints::contribution(PageNo page, const uint8_t* bytes) {
  if (PageStore::is_zero(bytes)) return 0;
  uint64_t h = XXH3_64bits(bytes, kPage);
  return XXH3_64bits_withSeed(&h, sizeof h, page);
}

RamCheckpoints::Id RamCheckpoints::take() {
  dirty_.collect();
  Node n;
  n.parent = basis_;
  n.digest = basis_ ? node(*basis_).digest : 0;
  for (PageNo page : dirty_pages()) {
    PageStore::PageId old = basis_ ? lookup(*basis_, page) : PageStore::kZeroPage;
    PageStore::PageId now = store_.put(host(page));
    if (now == old) {  // written back with what it held
      store_.unref(now);
      continue;
    }
    n.delta.push_back({page, now});
    n.digest += contribution(page, now) - contribution(page, old);
  }
  dirty_.clear();
  Id id = next_id_++;
  nodes_.emplace(id, std::move(n));
  basis_ = id;
  return id;
}

uint64_t RamCheckpoints::digest_now() {
  dirty_.collect();
  uint64_t d = basis_ ? node(*basis_).digest : 0;
  for (PageNo page : dirty_pages()) {
    PageStore::PageId old = basis_ ? lookup(*basis_, page) : PageStore::kZeroPage;
    d += contribution(page, host(page)) - contribution(page, old);
  }
  return d;
}

// Pages whose contents may differ between checkpoints `a` and `b`: those
// in the deltas on the tree path between them (their common ancestor's
// own delta is shared by both, so it is left out). No `a`: all-zero RAM,
// which differs from `b` wherever b's chain has a page.
std::vector<RamCheckpoints::PageNo> RamCheckpoints::pages_between(std::optional<Id> a, Id b) const {
  std::vector<Id> up_a;
  for (std::optional<Id> id = a; id; id = node(*id).parent) up_a.push_back(*id);
  std::vector<PageNo> pages;
  std::optional<Id> id = b;
  for (; id && std::find(up_a.begin(), up_a.end(), *id) == up_a.end(); id = node(*id).parent) {
    for (const Entry& e : node(*id).delta) pages.push_back(e.page);
  }
  for (Id x : up_a) {
    if (id && x == *id) break;  // the common ancestor
    for (const Entry& e : node(x).delta) pages.push_back(e.page);
  }
  return pages;
}

size_t RamCheckpoints::restore(Id id) {
  node(id);  // throws for an unknown checkpoint before anything changes
  dirty_.collect();
  std::vector<PageNo> pages = dirty_pages();
  std::vector<PageNo> path = pages_between(basis_, id);
  pages.insert(pages.end(), path.begin(), path.end());
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  for (PageNo page : pages) std::memcpy(host(page), store_.bytes(lookup(id, page)), kPage);
  dirty_.clear();
  basis_ = id;
  return pages.size();
}

size_t RamCheckpoints::children(Id id) const {
  size_t n = 0;
  for (const auto& [other, nd] : nodes_) n += nd.parent == id;
  return n;
}

void RamCheckpoints::drop(Id id) {
  Node gone = node(id);
  for (auto& [other, n] : nodes_) {
    if (n.parent != id) continue;
    std::vector<Entry> inherited;
    n.delta = merge_under(n.delta, gone.delta, &inherited);
    for (const Entry& e : inherited) store_.ref(e.id);
    n.parent = gone.parent;
  }
  if (basis_ == id) {
    // The live RAM was the dropped contents plus what is dirty: against
    // the new basis, the dropped delta's pages may differ too.
    for (const Entry& e : gone.delta) mark_dirty(e.page);
    basis_ = gone.parent;
  }
  for (const Entry& e : gone.delta) store_.unref(e.id);
  nodes_.erase(id);
}

uint64_t RamCheckpoints::bytes_used() const {
  uint64_t b = store_.bytes_used();
  for (const auto& [id, n] : nodes_) b += sizeof(Node) + n.delta.capacity() * sizeof(Entry);
  return b;
}

}  // namespace rrvm
