// Names for guest addresses in reports: the ELF symbol table of the kernel
// image stored in the trace, or a System.map-style text file
// ("ADDRESS TYPE NAME" per line, as Linux and NetBSD builds write them).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rrvm {

class GuestSymbols {
 public:
  struct Entry {
    uint64_t addr = 0;
    uint64_t size = 0;  // 0: unknown (extends to the next symbol)
    std::string name;
  };

  // A System.map of a large kernel is a few MiB; a larger file is not one.
  static constexpr uint64_t kMaxMapBytes = 256ull << 20;

  // Symbols of an ELF image; empty if the image has none or is not ELF.
  static GuestSymbols from_elf(std::span<const uint8_t> image);
  // Throws std::runtime_error naming the file and line on a malformed map
  // (trace::InputFileError, one, when it cannot be read or is not a regular
  // file; trace::InputTooLarge above kMaxMapBytes).
  static GuestSymbols from_map_file(const std::string& path);
  // The same for a map already read; `name` (the file) is named in errors.
  static GuestSymbols from_map(std::string_view text, const std::string& name);

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // The symbol containing `addr`, or nullopt.
  std::optional<Entry> lookup(uint64_t addr) const;
  std::optional<uint64_t> address_of(const std::string& name) const;
  // "name+0x12", or "" when no symbol contains `addr`.
  std::string describe(uint64_t addr) const;

 private:
  void sort();
  std::vector<Entry> entries_;  // by address
};

}  // namespace rrvm
