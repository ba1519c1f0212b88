#include "firmware/elf.h"

#include <cstring>
#include <limits>

#include "devices/hex.h"
#include "firmware/load_error.h"

namespace rrvm {

namespace {

constexpr uint32_t kPtLoad = 1;
constexpr uint32_t kShtSymtab = 2;
constexpr uint16_t kMaxHeaders = 4096;

// Bounds-checked little-endian reads from the image.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool has(uint64_t off, uint64_t len) const { return off <= b_.size() && len <= b_.size() - off; }
  uint64_t get(uint64_t off, unsigned len, const char* field) const {
    if (!has(off, len)) {
      throw ImageError(std::string("ELF image truncated: ") + field + " at offset " +
                       std::to_string(off) + " is past the end of the " +
                       std::to_string(b_.size()) + "-byte file");
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < len; ++i) v |= uint64_t{b_[off + i]} << (8 * i);
    return v;
  }

 private:
  std::span<const uint8_t> b_;
};

// Field offsets differ between ELFCLASS32 and ELFCLASS64 (gABI tables).
struct Layout {
  bool is64;
  unsigned word() const { return is64 ? 8 : 4; }
};

ElfSegment read_phdr(const Reader& r, const Layout& l, uint64_t off, uint32_t* type) {
  *type = static_cast<uint32_t>(r.get(off, 4, "p_type"));
  ElfSegment s{};
  if (l.is64) {
    s.offset = r.get(off + 8, 8, "p_offset");
    s.vaddr = r.get(off + 16, 8, "p_vaddr");
    s.paddr = r.get(off + 24, 8, "p_paddr");
    s.filesz = r.get(off + 32, 8, "p_filesz");
    s.memsz = r.get(off + 40, 8, "p_memsz");
  } else {
    s.offset = r.get(off + 4, 4, "p_offset");
    s.vaddr = r.get(off + 8, 4, "p_vaddr");
    s.paddr = r.get(off + 12, 4, "p_paddr");
    s.filesz = r.get(off + 16, 4, "p_filesz");
    s.memsz = r.get(off + 20, 4, "p_memsz");
  }
  return s;
}

}  // namespace

bool is_elf(std::span<const uint8_t> image) {
  return image.size() >= 4 && std::memcmp(image.data(),
                                          "\x7f"
                                          "ELF",
                                          4) == 0;
}

ElfImage parse_elf(std::span<const uint8_t> image) {
  if (!is_elf(image)) throw ImageError("not an ELF file (no \\x7fELF magic)");
  Reader r(image);
  uint64_t klass = r.get(4, 1, "e_ident[EI_CLASS]");
  if (klass != 1 && klass != 2)
    throw ImageError("ELF class " + std::to_string(klass) + " is neither 32- nor 64-bit");
  if (r.get(5, 1, "e_ident[EI_DATA]") != 1) throw ImageError("ELF image is not little-endian");
  Layout l{klass == 2};
  ElfImage elf;
  elf.is64 = l.is64;
  elf.machine = static_cast<uint16_t>(r.get(18, 2, "e_machine"));
  elf.entry = r.get(24, l.word(), "e_entry");
  uint64_t phoff = r.get(l.is64 ? 32 : 28, l.word(), "e_phoff");
  uint64_t phentsize = r.get(l.is64 ? 54 : 42, 2, "e_phentsize");
  uint64_t phnum = r.get(l.is64 ? 56 : 44, 2, "e_phnum");
  if (phnum > kMaxHeaders) throw ImageError("ELF e_phnum " + std::to_string(phnum) + " is absurd");
  if (phentsize < (l.is64 ? 56u : 32u))
    throw ImageError("ELF e_phentsize " + std::to_string(phentsize) + " is too small");
  for (uint64_t i = 0; i < phnum; ++i) {
    uint32_t type;
    ElfSegment s = read_phdr(r, l, phoff + i * phentsize, &type);
    if (type != kPtLoad) continue;
    if (!r.has(s.offset, s.filesz)) {
      throw ImageError("ELF segment " + std::to_string(i) + ": file range " +
                       std::to_string(s.offset) + "+" + std::to_string(s.filesz) +
                       " is outside the file");
    }
    if (s.filesz > s.memsz)
      throw ImageError("ELF segment " + std::to_string(i) + ": p_filesz > p_memsz");
    elf.loads.push_back(s);
  }
  if (elf.loads.empty()) throw ImageError("ELF image has no loadable (PT_LOAD) segment");
  return elf;
}

void load_elf_segments(std::span<const uint8_t> image, const ElfImage& elf, GuestMemory& mem,
                       LoadedImage& out) {
  for (size_t i = 0; i < elf.loads.size(); ++i) {
    const ElfSegment& s = elf.loads[i];
    bool fits =
        s.paddr + s.memsz >= s.paddr && mem.write(s.paddr, image.subspan(s.offset, s.filesz));
    std::vector<uint8_t> zeros(s.memsz - s.filesz, 0);
    fits = fits && mem.write(s.paddr + s.filesz, zeros);
    if (!fits) {
      throw ImageError("ELF segment " + std::to_string(i) + " at physical " + hex(s.paddr) + " (" +
                       std::to_string(s.memsz) + " bytes) does not fit in guest RAM (" +
                       std::to_string(mem.size() >> 20) + " MiB)");
    }
    out.segments.push_back({s.paddr, s.memsz});
    out.kernel_end = std::max(out.kernel_end, s.paddr + s.memsz);
  }
}

LoadedImage load_elf64(std::span<const uint8_t> image, GuestMemory& mem) {
  if (!is_elf(image)) {
    throw ImageError(
        "not a kernel rrvm can boot: no Multiboot header in the first 8 KiB and not an ELF file");
  }
  ElfImage elf = parse_elf(image);
  if (!elf.is64)
    throw ImageError(
        "32-bit ELF kernel without a Multiboot header: rrvm cannot tell how to enter it");
  LoadedImage out;
  load_elf_segments(image, elf, mem, out);
  out.entry = elf.entry;
  out.long_mode_entry = true;
  return out;
}

std::vector<Symbol> elf_symbols(std::span<const uint8_t> image) {
  std::vector<Symbol> syms;
  if (!is_elf(image)) return syms;
  Reader r(image);
  try {
    bool is64 = r.get(4, 1, "class") == 2;
    Layout l{is64};
    uint64_t shoff = r.get(is64 ? 40 : 32, l.word(), "e_shoff");
    uint64_t shentsize = r.get(is64 ? 58 : 46, 2, "e_shentsize");
    uint64_t shnum = r.get(is64 ? 60 : 48, 2, "e_shnum");
    if (shnum > kMaxHeaders) return syms;
    for (uint64_t i = 0; i < shnum; ++i) {
      uint64_t sh = shoff + i * shentsize;
      if (r.get(sh + 4, 4, "sh_type") != kShtSymtab) continue;
      uint64_t off = r.get(sh + (is64 ? 24 : 16), l.word(), "sh_offset");
      uint64_t size = r.get(sh + (is64 ? 32 : 20), l.word(), "sh_size");
      uint64_t link = r.get(sh + (is64 ? 40 : 24), 4, "sh_link");
      uint64_t strsh = shoff + link * shentsize;
      uint64_t stroff = r.get(strsh + (is64 ? 24 : 16), l.word(), "sh_offset");
      uint64_t strsize = r.get(strsh + (is64 ? 32 : 20), l.word(), "sh_size");
      uint64_t entsize = is64 ? 24 : 16;
      for (uint64_t e = off; e + entsize <= off + size; e += entsize) {
        uint64_t name = r.get(e, 4, "st_name");
        uint64_t info = r.get(e + (is64 ? 4 : 12), 1, "st_info");
        uint64_t value = r.get(e + (is64 ? 8 : 4), l.word(), "st_value");
        uint64_t sz = r.get(e + (is64 ? 16 : 8), l.word(), "st_size");
        unsigned type = info & 0xf;
        if ((type != 1 && type != 2) || name >= strsize) continue;  // STT_OBJECT, STT_FUNC
        std::string n;
        for (uint64_t k = stroff + name; k < stroff + strsize && r.has(k, 1); ++k) {
          char c = static_cast<char>(image[k]);
          if (!c) break;
          n.push_back(c);
        }
        syms.push_back({n, value, sz, type == 2});
      }
    }
  } catch (const ImageError&) {
    // A malformed symbol table just means no symbols.
  }
  return syms;
}

}  // namespace rrvm
