#include "replay/guest_symbols.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "devices/hex.h"
#include "firmware/elf.h"
#include "firmware/load_error.h"
#include "trace/input_file.h"

namespace rrvm {

GuestSymbols GuestSymbols::from_elf(std::span<const uint8_t> image) {
  GuestSymbols s;
  try {
    for (const Symbol& sym : elf_symbols(image)) {
      if (sym.name.empty() || sym.value == 0) continue;
      s.entries_.push_back({sym.value, sym.size, sym.name});
    }
  } catch (const ImageError&) {
    return {};  // not an ELF image: no names, reports use bare addresses
  }
  s.sort();
  return s;
}

GuestSymbols GuestSymbols::from_map_file(const std::string& path) {
  // A System.map of a large kernel is a few MiB; FIFOs and devices are refused.
  std::vector<uint8_t> bytes = trace::read_input_file(path, kMaxMapBytes, "symbol file");
  return from_map({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, path);
}

GuestSymbols GuestSymbols::from_map(std::string_view text, const std::string& path) {
  std::istringstream in{std::string(text)};
  GuestSymbols s;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string addr, type, name;
    if (!(fields >> addr >> type >> name)) {
      throw std::runtime_error(path + ":" + std::to_string(n) +
                               ": expected 'ADDRESS TYPE NAME' (System.map format)");
    }
    try {
      size_t used = 0;
      uint64_t a = std::stoull(addr, &used, 16);
      if (used != addr.size()) throw std::invalid_argument(addr);
      s.entries_.push_back({a, 0, name});
    } catch (const std::exception&) {
      throw std::runtime_error(path + ":" + std::to_string(n) + ": '" + addr +
                               "' is not a hexadecimal address");
    }
  }
  s.sort();
  return s;
}

void GuestSymbols::sort() {
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.addr < b.addr; });
}

std::optional<GuestSymbols::Entry> GuestSymbols::lookup(uint64_t addr) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), addr,
                             [](uint64_t a, const Entry& e) { return a < e.addr; });
  if (it == entries_.begin()) return std::nullopt;
  const Entry& e = *std::prev(it);
  uint64_t end = e.size ? e.addr + e.size : (it != entries_.end() ? it->addr : UINT64_MAX);
  if (addr >= end) return std::nullopt;
  return e;
}

std::optional<uint64_t> GuestSymbols::address_of(const std::string& name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return e.addr;
  return std::nullopt;
}

std::string GuestSymbols::describe(uint64_t addr) const {
  auto e = lookup(addr);
  if (!e) return "";
  return addr == e->addr ? e->name : e->name + "+" + hex(addr - e->addr);
}

}  // namespace rrvm
