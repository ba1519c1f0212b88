// Synthetic kernel images for the loader tests, written byte by byte from the
// specifications (gABI ELF tables, Multiboot 0.6.96 section 3.1, Linux
// boot.rst), independently of firmware/'s parsers.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "devices/guest_memory.h"
#include "firmware/load_error.h"

namespace rrvm::test {

using Bytes = std::vector<uint8_t>;

inline void put(Bytes& b, size_t off, uint64_t v, unsigned len) {
  if (b.size() < off + len) b.resize(off + len, 0);
  for (unsigned i = 0; i < len; ++i) b[off + i] = uint8_t(v >> (8 * i));
}

inline uint64_t get(const Bytes& b, size_t off, unsigned len) {
  uint64_t v = 0;
  for (unsigned i = 0; i < len; ++i) v |= uint64_t{b.at(off + i)} << (8 * i);
  return v;
}

// Little-endian value of `len` bytes at guest physical `addr`.
inline uint64_t peek(const GuestMemory& mem, uint64_t addr, unsigned len) {
  uint8_t b[8] = {};
  EXPECT_TRUE(mem.read(addr, std::span<uint8_t>(b, len))) << "read at " << addr;
  uint64_t v = 0;
  for (unsigned i = 0; i < len; ++i) v |= uint64_t{b[i]} << (8 * i);
  return v;
}

inline std::string peek_string(const GuestMemory& mem, uint64_t addr) {
  std::string s;
  for (uint8_t c; mem.read(addr, {&c, 1}) && c; ++addr) s.push_back(char(c));
  return s;
}

inline Bytes peek_bytes(const GuestMemory& mem, uint64_t addr, size_t len) {
  Bytes b(len);
  EXPECT_TRUE(mem.read(addr, b));
  return b;
}

struct TestSegment {
  uint32_t type = 1;  // PT_LOAD
  uint64_t paddr = 0, vaddr = 0;
  Bytes data;
  uint64_t memsz = 0;  // 0: data.size()
  uint32_t flags = 5;  // p_flags: PF_R | PF_X
};

struct TestSymbol {
  std::string name;
  uint64_t value = 0, size = 0;
  uint8_t type = 2;  // STT_FUNC
  uint16_t shndx = 1;
};

struct ElfSpec {
  bool is64 = true;
  uint16_t machine = 62;  // EM_X86_64
  uint16_t type = 2;      // ET_EXEC
  uint64_t entry = 0;
  std::vector<TestSegment> segments;
  std::vector<TestSymbol> symbols;  // empty: no section headers
};

// ELF header, program headers right after it, segment data 16-aligned after
// those, then (with symbols) .text/.symtab/.strtab section headers.
inline Bytes build_elf(const ElfSpec& s) {
  const bool w = s.is64;
  const size_t eh = w ? 64 : 52, ph = w ? 56 : 32, sh = w ? 64 : 40, sym = w ? 24 : 16;
  Bytes b(eh, 0);
  b[0] = 0x7f, b[1] = 'E', b[2] = 'L', b[3] = 'F';
  b[4] = w ? 2 : 1, b[5] = 1, b[6] = 1;
  put(b, 16, s.type, 2), put(b, 18, s.machine, 2), put(b, 20, 1, 4);
  put(b, 24, s.entry, w ? 8 : 4);
  put(b, w ? 32 : 28, eh, w ? 8 : 4);                                     // e_phoff
  put(b, w ? 52 : 40, eh, 2), put(b, w ? 54 : 42, ph, 2);                 // e_ehsize, e_phentsize
  put(b, w ? 56 : 44, s.segments.size(), 2), put(b, w ? 58 : 46, sh, 2);  // e_phnum, e_shentsize
  size_t data = (eh + ph * s.segments.size() + 15) & ~size_t{15};
  b.resize(data, 0);
  for (size_t i = 0; i < s.segments.size(); ++i) {
    const TestSegment& g = s.segments[i];
    size_t p = eh + i * ph, off = b.size();
    b.insert(b.end(), g.data.begin(), g.data.end());
    b.resize((b.size() + 15) & ~size_t{15}, 0);
    uint64_t memsz = g.memsz ? g.memsz : g.data.size();
    put(b, p, g.type, 4);
    put(b, p + (w ? 4 : 24), g.flags, 4);
    if (w) {
      put(b, p + 8, off, 8), put(b, p + 16, g.vaddr, 8), put(b, p + 24, g.paddr, 8);
      put(b, p + 32, g.data.size(), 8), put(b, p + 40, memsz, 8);
    } else {
      put(b, p + 4, off, 4), put(b, p + 8, g.vaddr, 4), put(b, p + 12, g.paddr, 4);
      put(b, p + 16, g.data.size(), 4), put(b, p + 20, memsz, 4);
    }
  }
  if (s.symbols.empty()) return b;
  Bytes strtab(1, 0), symtab(sym, 0);  // index 0: null symbol
  for (const TestSymbol& y : s.symbols) {
    size_t at = symtab.size();
    symtab.resize(at + sym, 0);
    put(symtab, at, strtab.size(), 4);
    strtab.insert(strtab.end(), y.name.begin(), y.name.end());
    strtab.push_back(0);
    if (w) {
      symtab[at + 4] = y.type, put(symtab, at + 6, y.shndx, 2);
      put(symtab, at + 8, y.value, 8), put(symtab, at + 16, y.size, 8);
    } else {
      put(symtab, at + 4, y.value, 4), put(symtab, at + 8, y.size, 4);
      symtab[at + 12] = y.type, put(symtab, at + 14, y.shndx, 2);
    }
  }
  size_t symoff = b.size();
  b.insert(b.end(), symtab.begin(), symtab.end());
  size_t stroff = b.size();
  b.insert(b.end(), strtab.begin(), strtab.end());
  b.resize((b.size() + 7) & ~size_t{7}, 0);
  size_t shoff = b.size();
  b.resize(shoff + 4 * sh, 0);
  auto section = [&](size_t i, uint32_t type, uint64_t off, uint64_t size, uint32_t link,
                     uint64_t entsize) {
    size_t p = shoff + i * sh;
    put(b, p + 4, type, 4);
    put(b, p + (w ? 24 : 16), off, w ? 8 : 4), put(b, p + (w ? 32 : 20), size, w ? 8 : 4);
    put(b, p + (w ? 40 : 24), link, 4), put(b, p + (w ? 56 : 36), entsize, w ? 8 : 4);
  };
  section(1, 1 /* PROGBITS */, 0, 0, 0, 0);
  section(2, 2 /* SYMTAB */, symoff, symtab.size(), 3, sym);
  section(3, 3 /* STRTAB */, stroff, strtab.size(), 0, 0);
  put(b, w ? 40 : 32, shoff, w ? 8 : 4);  // e_shoff
  put(b, w ? 60 : 48, 4, 2);              // e_shnum
  return b;
}

// Multiboot header (spec 3.1.1): magic, flags, checksum, and with flags bit
// 16 the five a.out-kludge addresses.
struct MbAout {
  uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};
inline Bytes multiboot_header(uint32_t flags, const MbAout* aout = nullptr) {
  Bytes b;
  put(b, 0, 0x1BADB002, 4), put(b, 4, flags, 4), put(b, 8, 0u - (0x1BADB002u + flags), 4);
  if (aout) {
    put(b, 12, aout->header_addr, 4), put(b, 16, aout->load_addr, 4);
    put(b, 20, aout->load_end_addr, 4), put(b, 24, aout->bss_end_addr, 4);
    put(b, 28, aout->entry_addr, 4);
  }
  return b;
}

// "Code": recognisable bytes.
inline Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i * 7);
  return b;
}

inline Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Runs `load` on every truncation of `image` and on every single-byte
// corruption (three patterns per byte): each must succeed or throw
// ImageError — anything else (another exception, a crash under the
// sanitizers) fails. Returns how many attempts threw ImageError.
inline size_t expect_no_crash(const Bytes& image, const std::function<void(const Bytes&)>& load) {
  size_t errors = 0;
  auto attempt = [&](const Bytes& b) {
    try {
      load(b);
    } catch (const ImageError&) {
      ++errors;
    }
  };
  for (size_t len = 0; len < image.size(); ++len)
    attempt(Bytes(image.begin(), image.begin() + len));
  for (size_t i = 0; i < image.size(); ++i) {
    for (uint8_t x : {uint8_t(0xff), uint8_t(0x80), uint8_t(0x01)}) {
      Bytes b = image;
      b[i] ^= x;
      attempt(b);
    }
  }
  return errors;
}

// Expects `f` to throw ImageError whose message contains every one of `parts`.
inline void expect_image_error(const std::function<void()>& f,
                               const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no ImageError thrown";
  } catch (const ImageError& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << p << "\"";
  }
}

// A Linux bzImage (boot.rst, "The Real-Mode Kernel Header": field offsets
// in the file) whose protected-mode part is `kernel`.
struct BzSpec {
  uint16_t version = 0x020f;
  uint8_t setup_sects = 4;
  uint8_t loadflags = 0x01 | 0x80;  // LOADED_HIGH, CAN_USE_HEAP as a real image says
  uint16_t xloadflags = 0x1;        // XLF_KERNEL_64
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t cmdline_size = 2047;
  uint32_t init_size = 0x200000;
  uint32_t payload_offset = 0, payload_length = 0;  // the compressed kernel in `kernel`
  Bytes kernel = pattern(3000, 21);                 // protected-mode part
};

// boot.rst, "The Real-Mode Kernel Header": field offsets in the file.
inline Bytes build_bzimage(const BzSpec& s) {
  size_t setup = ((s.setup_sects ? s.setup_sects : 4) + 1) * 512;
  Bytes b(setup, 0);
  b[0x1f1] = s.setup_sects;
  put(b, 0x1f4, (s.kernel.size() + 15) / 16, 4);  // syssize
  put(b, 0x1fa, 0xffff, 2);                       // vid_mode NORMAL_VGA
  put(b, 0x1fe, 0xaa55, 2);                       // boot_flag
  b[0x200] = 0xeb, b[0x201] = 0x6a;               // jmp to 0x26c: header end
  put(b, 0x202, 0x53726448, 4);                   // "HdrS"
  put(b, 0x206, s.version, 2);
  b[0x211] = s.loadflags;
  put(b, 0x214, 0x100000, 4);  // code32_start
  put(b, 0x22c, s.initrd_addr_max, 4);
  put(b, 0x230, 0x200000, 4);  // kernel_alignment
  b[0x234] = 1;                // relocatable_kernel
  put(b, 0x236, s.xloadflags, 2);
  put(b, 0x238, s.cmdline_size, 4);
  put(b, 0x248, s.payload_offset, 4);
  put(b, 0x24c, s.payload_length, 4);
  put(b, 0x260, s.init_size, 4);
  return concat(b, s.kernel);
}

}  // namespace rrvm::test
