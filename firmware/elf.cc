#include "firmware/elf.h"

#include <algorithm>
#include <cstring>

#include "devices/hex.h"
#include "firmware/boot_layout.h"
#include "firmware/e820.h"
#include "firmware/image_io.h"
#include "firmware/load_error.h"

namespace rrvm {

namespace {

// e_ident (gABI, "ELF Identification").
constexpr unsigned kEiClass = 4, kEiData = 5, kEiNident = 16;
constexpr uint8_t kElfClass32 = 1, kElfClass64 = 2, kElfData2Lsb = 1;
// e_type, e_machine.
constexpr uint16_t kEtRel = 1, kEtExec = 2, kEtDyn = 3;
constexpr uint16_t kEm386 = 3, kEmX8664 = 62;
// Program header types; PN_XNUM marks a count stored elsewhere.
constexpr uint32_t kPtLoad = 1, kPtNote = 4;
constexpr uint16_t kPnXnum = 0xffff;
// Section header types.
constexpr uint32_t kShtSymtab = 2, kShtStrtab = 3, kShtDynsym = 11;
// Symbol types (low nibble of st_info) and the undefined section index.
constexpr unsigned kSttNotype = 0, kSttObject = 1, kSttFunc = 2;
constexpr uint16_t kShnUndef = 0;

// Field offsets for ELFCLASS32 / ELFCLASS64 (gABI tables; the 64-bit
// supplement reorders p_flags and widens addresses).
struct Layout {
  bool w;  // wide: ELF64
  uint64_t ehsize() const { return w ? 64 : 52; }
  uint64_t e_entry() const { return 24; }
  uint64_t e_phoff() const { return w ? 32 : 28; }
  uint64_t e_shoff() const { return w ? 40 : 32; }
  uint64_t e_phentsize() const { return w ? 54 : 42; }
  uint64_t e_phnum() const { return w ? 56 : 44; }
  uint64_t e_shentsize() const { return w ? 58 : 46; }
  uint64_t e_shnum() const { return w ? 60 : 48; }
  uint64_t phdr_size() const { return w ? 56 : 32; }
  uint64_t shdr_size() const { return w ? 64 : 40; }
  uint64_t sym_size() const { return w ? 24 : 16; }
};

std::string seg_name(unsigned index) {
  return "ELF program header " + std::to_string(index);
}

// Checks the identification bytes and returns the layout they select.
Layout read_ident(const ImageReader& r) {
  if (r.size() < 4 || r.u32(0, "e_ident") != 0x464c457f)
    throw ImageError("not an ELF file (no \\x7fELF magic at offset 0)");
  r.bytes(0, kEiNident, "e_ident");
  uint8_t klass = r.u8(kEiClass, "e_ident[EI_CLASS]");
  if (klass != kElfClass32 && klass != kElfClass64) {
    throw ImageError("ELF e_ident[EI_CLASS] is " + std::to_string(klass) +
                     ", expected 1 (ELFCLASS32) or 2 (ELFCLASS64)");
  }
  uint8_t data = r.u8(kEiData, "e_ident[EI_DATA]");
  if (data != kElfData2Lsb) {
    throw ImageError("ELF e_ident[EI_DATA] is " + std::to_string(data) +
                     ", expected 1 (ELFDATA2LSB): x86 images are little-endian");
  }
  Layout l{klass == kElfClass64};
  r.bytes(0, l.ehsize(), std::string(l.w ? "ELF64" : "ELF32") + " header");
  return l;
}

void check_type_and_machine(const ElfImage& elf) {
  if (elf.type != kEtExec && elf.type != kEtDyn) {
    throw ImageError("ELF e_type is " + std::to_string(elf.type) +
                     (elf.type == kEtRel ? " (ET_REL: an object file, not a linked kernel)" : "") +
                     ", expected 2 (ET_EXEC) or 3 (ET_DYN)");
  }
  if (elf.machine != kEm386 && elf.machine != kEmX8664) {
    throw ImageError("ELF e_machine is " + std::to_string(elf.machine) +
                     ", expected 3 (EM_386) or 62 (EM_X86_64)");
  }
}

ElfSegment read_phdr(const ImageReader& r, const Layout& l, uint64_t off, unsigned index) {
  ElfSegment s{};
  s.index = index;
  s.offset = r.word(off + (l.w ? 8 : 4), l.w, "p_offset");
  s.vaddr = r.word(off + (l.w ? 16 : 8), l.w, "p_vaddr");
  s.paddr = r.word(off + (l.w ? 24 : 12), l.w, "p_paddr");
  s.filesz = r.word(off + (l.w ? 32 : 16), l.w, "p_filesz");
  s.memsz = r.word(off + (l.w ? 40 : 20), l.w, "p_memsz");
  constexpr uint32_t kPfX = 1;  // p_flags: executable
  s.executable = r.u32(off + (l.w ? 4 : 24), "p_flags") & kPfX;
  if (!r.has(s.offset, s.filesz)) {
    throw ImageError(seg_name(index) + ": p_offset " + hex(s.offset) + " + p_filesz " +
                     hex(s.filesz) + " lies past the end of the " + std::to_string(r.size()) +
                     "-byte file");
  }
  return s;
}

void check_load(const ElfSegment& s) {
  if (s.filesz > s.memsz) {
    throw ImageError(seg_name(s.index) + ": p_filesz " + hex(s.filesz) +
                     " is larger than p_memsz " + hex(s.memsz));
  }
  checked_add(s.paddr, s.memsz, seg_name(s.index) + ": p_paddr + p_memsz");
  checked_add(s.vaddr, s.memsz, seg_name(s.index) + ": p_vaddr + p_memsz");
}

// Bounds of the program header table; returns its entry size.
uint64_t check_phdr_table(const ImageReader& r, const Layout& l, uint64_t phoff, uint64_t phnum) {
  uint64_t phentsize = r.u16(l.e_phentsize(), "e_phentsize");
  if (phnum == 0) throw ImageError("ELF image has no program headers (e_phnum is 0)");
  if (phnum == kPnXnum)
    throw ImageError("ELF e_phnum is 0xffff (PN_XNUM, extended numbering): not supported");
  if (phentsize < l.phdr_size()) {
    throw ImageError("ELF e_phentsize is " + std::to_string(phentsize) + ", expected at least " +
                     std::to_string(l.phdr_size()));
  }
  if (!r.has(phoff, phnum * phentsize)) {  // both are 16-bit: no overflow
    throw ImageError("ELF program header table (e_phoff " + hex(phoff) + ", e_phnum " +
                     std::to_string(phnum) + " x e_phentsize " + std::to_string(phentsize) +
                     ") lies past the end of the " + std::to_string(r.size()) + "-byte file");
  }
  return phentsize;
}

void check_no_overlap(std::vector<ElfSegment> loads) {
  std::sort(loads.begin(), loads.end(),
            [](const ElfSegment& a, const ElfSegment& b) { return a.paddr < b.paddr; });
  for (size_t i = 1; i < loads.size(); ++i) {
    const ElfSegment &a = loads[i - 1], &b = loads[i];
    if (b.paddr < a.paddr + a.memsz) {
      throw ImageError(seg_name(a.index) + " [" + hex(a.paddr) + ", " + hex(a.paddr + a.memsz) +
                       ") and program header " + std::to_string(b.index) + " [" + hex(b.paddr) +
                       ", " + hex(b.paddr + b.memsz) + ") overlap in physical memory");
    }
  }
}

}  // namespace

bool is_elf(std::span<const uint8_t> image) {
  return image.size() >= 4 && std::memcmp(image.data(),
                                          "\x7f"
                                          "ELF",
                                          4) == 0;
}

ElfImage parse_elf(std::span<const uint8_t> image) {
  ImageReader r(image, "ELF");
  Layout l = read_ident(r);
  ElfImage elf;
  elf.is64 = l.w;
  elf.type = r.u16(16, "e_type");
  elf.machine = r.u16(18, "e_machine");
  check_type_and_machine(elf);
  elf.entry = r.word(l.e_entry(), l.w, "e_entry");
  uint64_t phoff = r.word(l.e_phoff(), l.w, "e_phoff");
  uint64_t phnum = r.u16(l.e_phnum(), "e_phnum");
  uint64_t phentsize = check_phdr_table(r, l, phoff, phnum);
  for (unsigned i = 0; i < phnum; ++i) {
    uint64_t off = phoff + i * phentsize;
    uint32_t type = r.u32(off, "p_type");
    if (type != kPtLoad && type != kPtNote) continue;
    ElfSegment s = read_phdr(r, l, off, i);
    if (type == kPtNote) {
      elf.notes.push_back(s);
      continue;
    }
    check_load(s);
    if (s.memsz) elf.loads.push_back(s);
  }
  if (elf.loads.empty())
    throw ImageError("ELF image has no loadable segment (PT_LOAD with p_memsz > 0)");
  check_no_overlap(elf.loads);
  return elf;
}

namespace {
std::string describe_windows(std::span<const MemRange> windows) {
  std::string out;
  for (const MemRange& w : windows)
    out += (out.empty() ? "" : " and ") + ("[" + hex(w.begin) + ", " + hex(w.end) + ")");
  return out;
}
}  // namespace

void check_kernel_placement(const std::string& what, uint64_t addr, uint64_t len,
                            std::span<const MemRange> low_windows, uint64_t ram) {
  std::string range = "[" + hex(addr) + ", " + hex(addr + len) + ")";
  auto inside = [&](const MemRange& w) {
    return addr >= w.begin && addr <= w.end && len <= w.end - addr;
  };
  if (addr < kKernelMinAddr && std::none_of(low_windows.begin(), low_windows.end(), inside)) {
    if (low_windows.empty()) {
      throw ImageError(what + " at physical " + range +
                       " lies below 1 MiB, where rrvm keeps boot data; link the kernel at or "
                       "above 0x100000");
    }
    throw ImageError(what + " at physical " + range +
                     " overlaps rrvm's boot data below 1 MiB; below 1 MiB this kernel may use " +
                     describe_windows(low_windows) + ", or link it at or above 0x100000");
  }
  if (!e820_contains(build_e820(ram), addr, len)) {
    throw ImageError(what + " at physical " + range + " is outside guest RAM (" +
                     std::to_string(ram >> 20) + " MiB; usable RAM is listed by the E820 map)");
  }
}

void load_elf_segments(std::span<const uint8_t> image, const ElfImage& elf, GuestMemory& mem,
                       LoadedImage& out, std::span<const MemRange> low_windows) {
  for (const ElfSegment& s : elf.loads)
    check_kernel_placement(seg_name(s.index), s.paddr, s.memsz, low_windows, mem.size());
  for (const ElfSegment& s : elf.loads) {
    std::string what = seg_name(s.index);
    write_guest(mem, s.paddr, image.subspan(s.offset, s.filesz), what);
    zero_guest(mem, s.paddr + s.filesz, s.memsz - s.filesz, what + " bss");
    out.segments.push_back({s.paddr, s.memsz});
    out.kernel_end = std::max(out.kernel_end, s.paddr + s.memsz);
  }
}

uint64_t elf_physical_entry(const ElfImage& elf) {
  for (const ElfSegment& s : elf.loads) {
    if (elf.entry >= s.paddr && elf.entry - s.paddr < s.memsz) return elf.entry;
  }
  for (const ElfSegment& s : elf.loads) {
    if (elf.entry >= s.vaddr && elf.entry - s.vaddr < s.memsz)
      return s.paddr + (elf.entry - s.vaddr);
  }
  throw ImageError("ELF e_entry " + hex(elf.entry) +
                   " is not inside any loadable segment (physical or virtual)");
}

LoadedImage load_elf64(std::span<const uint8_t> image, GuestMemory& mem) {
  if (!is_elf(image)) {
    throw ImageError(
        "not a kernel rrvm can boot: no Multiboot header in the first 8 KiB and not an ELF file");
  }
  ElfImage elf = parse_elf(image);
  if (!elf.is64) {
    throw ImageError(
        "32-bit ELF kernel without a Multiboot header: rrvm cannot tell how to enter it");
  }
  LoadedImage out;
  out.entry = elf_physical_entry(elf);
  if (out.entry >= kHighRamBase) {
    throw ImageError("ELF entry point " + hex(out.entry) +
                     " is above 4 GiB, outside the identity map rrvm enters 64-bit kernels with");
  }
  load_elf_segments(image, elf, mem, out);
  out.protocol = BootProtocol::kElf64;
  out.long_mode_entry = true;
  return out;
}

std::vector<ElfNote> elf_notes(std::span<const uint8_t> image, const ElfImage& elf) {
  ImageReader r(image, "ELF");
  std::vector<ElfNote> notes;
  for (const ElfSegment& s : elf.notes) {
    // Note entries: namesz, descsz, type, then name and desc each padded to
    // 4 bytes (x86 Linux uses 4-byte alignment in ELF64 too).
    uint64_t pos = s.offset, end = s.offset + s.filesz;  // bounds checked in parse_elf
    while (end - pos >= 12) {
      uint64_t namesz = r.u32(pos, "note namesz"), descsz = r.u32(pos + 4, "note descsz");
      ElfNote n;
      n.type = r.u32(pos + 8, "note type");
      uint64_t name_off = pos + 12, desc_off = name_off + ((namesz + 3) & ~3ull);
      // Offsets stay below pos + 2^34: no overflow. The last note's padding
      // may be missing from p_filesz.
      uint64_t next = std::min<uint64_t>(end, desc_off + ((descsz + 3) & ~3ull));
      if (desc_off > end || descsz > end - desc_off) {
        throw ImageError(seg_name(s.index) + " (PT_NOTE): note at offset " + hex(pos) +
                         " with namesz " + std::to_string(namesz) + " and descsz " +
                         std::to_string(descsz) + " runs past the end of the segment");
      }
      auto name = r.bytes(name_off, namesz, "note name");
      n.name.assign(name.begin(), std::find(name.begin(), name.end(), 0));
      n.desc = r.bytes(desc_off, descsz, "note desc");
      notes.push_back(std::move(n));
      pos = next;
    }
  }
  return notes;
}

namespace {

struct Section {
  uint32_t type;
  uint64_t offset, size, link, entsize;
};

Section read_section(const ImageReader& r, const Layout& l, uint64_t off, uint64_t index) {
  std::string name = "ELF section header " + std::to_string(index);
  Section s{};
  s.type = r.u32(off + 4, "sh_type");
  s.offset = r.word(off + (l.w ? 24 : 16), l.w, "sh_offset");
  s.size = r.word(off + (l.w ? 32 : 20), l.w, "sh_size");
  s.link = r.u32(off + (l.w ? 40 : 24), "sh_link");
  s.entsize = r.word(off + (l.w ? 56 : 36), l.w, "sh_entsize");
  if (s.type != 8 /* SHT_NOBITS */ && !r.has(s.offset, s.size)) {
    throw ImageError(name + ": sh_offset " + hex(s.offset) + " + sh_size " + hex(s.size) +
                     " lies past the end of the " + std::to_string(r.size()) + "-byte file");
  }
  return s;
}

std::vector<Section> read_sections(const ImageReader& r, const Layout& l) {
  uint64_t shoff = r.word(l.e_shoff(), l.w, "e_shoff");
  uint64_t shentsize = r.u16(l.e_shentsize(), "e_shentsize");
  uint64_t shnum = r.u16(l.e_shnum(), "e_shnum");
  if (shoff == 0 || shnum == 0) return {};
  if (shentsize < l.shdr_size()) {
    throw ImageError("ELF e_shentsize is " + std::to_string(shentsize) + ", expected at least " +
                     std::to_string(l.shdr_size()));
  }
  if (!r.has(shoff, shnum * shentsize)) {
    throw ImageError("ELF section header table (e_shoff " + hex(shoff) + ", e_shnum " +
                     std::to_string(shnum) + " x e_shentsize " + std::to_string(shentsize) +
                     ") lies past the end of the " + std::to_string(r.size()) + "-byte file");
  }
  std::vector<Section> sections;
  for (uint64_t i = 0; i < shnum; ++i)
    sections.push_back(read_section(r, l, shoff + i * shentsize, i));
  return sections;
}

SymbolType symbol_type(unsigned stt) {
  return stt == kSttFunc     ? SymbolType::kFunction
         : stt == kSttObject ? SymbolType::kObject
                             : SymbolType::kOther;
}

void read_symtab(const ImageReader& r, const Layout& l, const Section& tab, const Section& str,
                 std::vector<Symbol>& out) {
  uint64_t entsize = tab.entsize ? tab.entsize : l.sym_size();
  if (entsize < l.sym_size()) {
    throw ImageError("ELF symbol table sh_entsize is " + std::to_string(entsize) +
                     ", expected at least " + std::to_string(l.sym_size()));
  }
  for (uint64_t i = 1; i < tab.size / entsize; ++i) {  // entry 0 is the null symbol
    uint64_t e = tab.offset + i * entsize;
    uint64_t name = r.u32(e, "st_name");
    unsigned stt = r.u8(e + (l.w ? 4 : 12), "st_info") & 0xf;
    uint16_t shndx = r.u16(e + (l.w ? 6 : 14), "st_shndx");
    if ((stt != kSttNotype && stt != kSttObject && stt != kSttFunc) || shndx == kShnUndef) continue;
    if (name >= str.size) {
      throw ImageError("ELF symbol " + std::to_string(i) + ": st_name " + hex(name) +
                       " is outside the string table (" + std::to_string(str.size) + " bytes)");
    }
    Symbol s;
    s.name = r.cstring(str.offset + name, str.offset + str.size, "symbol name");
    if (s.name.empty()) continue;
    s.value = r.word(e + (l.w ? 8 : 4), l.w, "st_value");
    s.size = r.word(e + (l.w ? 16 : 8), l.w, "st_size");
    s.type = symbol_type(stt);
    out.push_back(std::move(s));
  }
}

}  // namespace

std::vector<Symbol> elf_symbols(std::span<const uint8_t> image) {
  ImageReader r(image, "ELF");
  Layout l = read_ident(r);
  std::vector<Section> sections = read_sections(r, l);
  auto find = [&](uint32_t type) {
    return std::find_if(sections.begin(), sections.end(),
                        [type](const Section& s) { return s.type == type; });
  };
  auto tab = find(kShtSymtab);
  if (tab == sections.end()) tab = find(kShtDynsym);
  if (tab == sections.end()) return {};
  if (tab->link >= sections.size() || sections[tab->link].type != kShtStrtab) {
    throw ImageError("ELF symbol table sh_link " + std::to_string(tab->link) +
                     " does not name a string table (SHT_STRTAB) section");
  }
  std::vector<Symbol> syms;
  read_symtab(r, l, *tab, sections[tab->link], syms);
  std::stable_sort(syms.begin(), syms.end(),
                   [](const Symbol& a, const Symbol& b) { return a.value < b.value; });
  return syms;
}

}  // namespace rrvm
