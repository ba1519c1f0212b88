#include "vmm/device_states.h"

#include <algorithm>

#include "vmm/state_digest.h"

namespace rrvm {

void DeviceStates::add_stateless(std::string name, std::vector<const void*> parts,
                                 std::string why) {
  entries_.push_back(Entry{std::move(name), {}, {}, std::move(parts), std::move(why)});
}

DeviceStates::Snapshot DeviceStates::save() const {
  Snapshot s;
  s.reserve(entries_.size());
  for (const Entry& e : entries_) s.push_back(e.save ? e.save() : Blob{});
  return s;
}

void DeviceStates::restore(const Snapshot& s) const {
  if (s.size() != entries_.size()) {
    throw std::invalid_argument("device snapshot has " + std::to_string(s.size()) +
                                " entries, this board " + std::to_string(entries_.size()));
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].restore) entries_[i].restore(s[i]);
  }
}

uint64_t DeviceStates::digest(const Snapshot& s) const {
  StateDigest d;
  for (const Blob& b : s) d.value(uint64_t{b.size()}).bytes(b);
  return d.digest();
}

std::vector<std::string> DeviceStates::differing(const Snapshot& a, const Snapshot& b) const {
  std::vector<std::string> out;
  for (size_t i = 0; i < entries_.size() && i < a.size() && i < b.size(); ++i) {
    if (a[i] != b[i]) out.push_back(entries_[i].name);
  }
  return out;
}

bool DeviceStates::covers(const void* part) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return std::find(e.parts.begin(), e.parts.end(), part) != e.parts.end();
  });
}

std::vector<std::string> DeviceStates::names() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.name);
  return out;
}

}  // namespace rrvm
