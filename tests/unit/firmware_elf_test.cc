// ELF parsing and the plain ELF64 loader, from the System V gABI: PT_LOAD
// segments go to p_paddr, p_memsz - p_filesz bytes are zeroed, every field
// that points into the file is checked, and symbols come from .symtab.
#include <gtest/gtest.h>

#include "firmware/elf.h"
#include "firmware/load_error.h"
#include "tests/unit/firmware_test_images.h"

namespace rrvm {
namespace {

using test::build_elf;
using test::Bytes;
using test::ElfSpec;
using test::expect_image_error;
using test::peek_bytes;

constexpr uint64_t MiB = 1ull << 20;

ElfSpec kernel64() {
  ElfSpec s;
  s.entry = 0x200010;
  s.segments.push_back({1, 0x200000, 0x200000, test::pattern(300, 1), 0});
  s.segments.push_back({1, 0x201000, 0x201000, test::pattern(40, 9), 0x2000});  // data + bss
  s.symbols = {{"start64", 0x200010, 0, 0 /* NOTYPE */},
               {"main", 0x200040, 32, 2},
               {"counter", 0x201000, 8, 1 /* OBJECT */},
               {"printf", 0, 0, 2, 0 /* UNDEF */}};
  return s;
}

TEST(Elf, LoadsSegmentsAtPaddrAndZeroesBss) {
  ElfSpec s = kernel64();
  Bytes image = build_elf(s);
  VectorMemory mem(8 * MiB);
  std::fill(mem.bytes().begin(), mem.bytes().end(), 0xAA);  // bss must be zeroed, not assumed
  LoadedImage img = load_elf64(image, mem);
  EXPECT_EQ(peek_bytes(mem, 0x200000, 300), s.segments[0].data);
  EXPECT_EQ(peek_bytes(mem, 0x201000, 40), s.segments[1].data);
  EXPECT_EQ(peek_bytes(mem, 0x201000 + 40, 0x2000 - 40), Bytes(0x2000 - 40, 0));
  EXPECT_EQ(mem.bytes()[0x201000 + 0x2000], 0xAA);  // nothing past p_memsz
  EXPECT_EQ(mem.bytes()[0x200000 + 300], 0xAA);     // filesz == memsz: no bss
  EXPECT_EQ(img.kernel_end, 0x203000u);
  ASSERT_EQ(img.segments.size(), 2u);
  EXPECT_EQ(img.segments[1], (std::pair<uint64_t, uint64_t>{0x201000, 0x2000}));
}

TEST(Elf, Elf64KernelIsEnteredInLongModeAtEntry) {
  VectorMemory mem(8 * MiB);
  LoadedImage img = load_elf64(build_elf(kernel64()), mem);
  EXPECT_TRUE(img.long_mode_entry);
  EXPECT_EQ(img.protocol, BootProtocol::kElf64);
  EXPECT_EQ(img.entry, 0x200010u);
}

TEST(Elf, VirtualEntryIsTranslatedThroughItsSegment) {
  ElfSpec s = kernel64();
  s.segments[0].vaddr = 0xffffffff80200000;  // linked high, loaded at 2 MiB (AT())
  s.entry = 0xffffffff80200020;
  VectorMemory mem(8 * MiB);
  EXPECT_EQ(load_elf64(build_elf(s), mem).entry, 0x200020u);
}

TEST(Elf, EntryOutsideEverySegmentIsRejected) {
  ElfSpec s = kernel64();
  s.entry = 0x500000;
  VectorMemory mem(8 * MiB);
  expect_image_error([&] { load_elf64(build_elf(s), mem); }, {"e_entry", "0x500000"});
}

TEST(Elf, Elf32WithoutMultibootIsRefused) {
  ElfSpec s = kernel64();
  s.is64 = false;
  s.machine = 3;
  s.symbols.clear();
  VectorMemory mem(8 * MiB);
  expect_image_error([&] { load_elf64(build_elf(s), mem); }, {"32-bit ELF", "Multiboot"});
}

TEST(Elf, HeaderErrorsNameTheField) {
  VectorMemory mem(8 * MiB);
  Bytes good = build_elf(kernel64());
  auto with = [&](size_t off, uint8_t v) {
    Bytes b = good;
    b[off] = v;
    return b;
  };
  expect_image_error([&] { parse_elf(Bytes{'M', 'Z', 0, 0, 0}); }, {"not an ELF file"});
  expect_image_error([&] { parse_elf(with(4, 3)); }, {"EI_CLASS", "3"});
  expect_image_error([&] { parse_elf(with(5, 2)); }, {"EI_DATA", "little-endian"});
  expect_image_error([&] { parse_elf(with(18, 40)); }, {"e_machine is 40"});  // EM_ARM
  expect_image_error([&] { parse_elf(with(16, 1)); }, {"e_type", "ET_REL"});
  expect_image_error([&] { parse_elf(Bytes(good.begin(), good.begin() + 40)); },
                     {"truncated", "ELF64 header"});
}

TEST(Elf, ProgramHeaderTableMustLieInTheFile) {
  Bytes b = build_elf(kernel64());
  test::put(b, 32, b.size() - 8, 8);  // e_phoff near the end
  expect_image_error([&] { parse_elf(b); }, {"program header table", "e_phoff"});
  b = build_elf(kernel64());
  test::put(b, 56, 0xfffe, 2);  // e_phnum huge
  expect_image_error([&] { parse_elf(b); }, {"program header table", "65534"});
  b = build_elf(kernel64());
  test::put(b, 56, 0, 2);
  expect_image_error([&] { parse_elf(b); }, {"e_phnum is 0"});
  b = build_elf(kernel64());
  test::put(b, 54, 32, 2);  // e_phentsize too small for ELF64
  expect_image_error([&] { parse_elf(b); }, {"e_phentsize is 32"});
}

TEST(Elf, SegmentFileRangeIsChecked) {
  Bytes b = build_elf(kernel64());
  test::put(b, 64 + 8, b.size() - 10, 8);  // p_offset: 300 bytes from 10 before the end
  expect_image_error([&] { parse_elf(b); }, {"program header 0", "p_offset", "p_filesz"});
  b = build_elf(kernel64());
  test::put(b, 64 + 8, UINT64_MAX - 100, 8);  // p_offset + p_filesz wraps around
  expect_image_error([&] { parse_elf(b); }, {"program header 0", "past the end"});
  b = build_elf(kernel64());
  test::put(b, 64 + 40, 10, 8);  // p_memsz < p_filesz
  expect_image_error([&] { parse_elf(b); }, {"program header 0", "p_filesz", "p_memsz"});
  b = build_elf(kernel64());
  test::put(b, 64 + 24, UINT64_MAX - 100, 8);  // p_paddr + p_memsz wraps
  expect_image_error([&] { parse_elf(b); }, {"program header 0", "p_paddr + p_memsz", "overflows"});
}

TEST(Elf, SegmentsMustFitInRamAboveOneMiB) {
  VectorMemory mem(8 * MiB);
  ElfSpec s = kernel64();
  s.segments[1].paddr = s.segments[1].vaddr = 8 * MiB - 0x1000;  // bss runs past the end of RAM
  expect_image_error([&] { load_elf64(build_elf(s), mem); },
                     {"program header 1", "0x7ff000", "outside guest RAM", "8 MiB"});
  s = kernel64();
  s.segments[1].memsz = 0xffffff0000;  // a terabyte of bss: refused without allocating it
  expect_image_error([&] { load_elf64(build_elf(s), mem); },
                     {"program header 1", "outside guest RAM"});
  s = kernel64();
  s.segments[0].paddr = s.segments[0].vaddr = 0x8000;
  s.entry = 0x8010;
  expect_image_error([&] { load_elf64(build_elf(s), mem); }, {"program header 0", "below 1 MiB"});
}

TEST(Elf, OverlappingSegmentsAreRejected) {
  ElfSpec s = kernel64();
  s.segments[1].paddr = 0x200100;
  expect_image_error([&] { parse_elf(build_elf(s)); },
                     {"program header 0", "program header 1", "overlap"});
}

TEST(Elf, EmptyLoadSegmentsAreSkipped) {
  ElfSpec s = kernel64();
  s.segments.push_back({1, 0, 0, {}, 0});  // PT_LOAD with p_memsz 0 at address 0
  s.segments.push_back({6 /* PT_PHDR */, 0, 0, {}, 0});
  VectorMemory mem(8 * MiB);
  EXPECT_EQ(load_elf64(build_elf(s), mem).segments.size(), 2u);
}

TEST(Elf, SymbolsFromElf64SymtabSortedWithTypes) {
  std::vector<Symbol> syms = elf_symbols(build_elf(kernel64()));
  ASSERT_EQ(syms.size(), 3u);  // the undefined "printf" is left out
  EXPECT_EQ(syms[0].name, "start64");
  EXPECT_EQ(syms[0].type, SymbolType::kOther);
  EXPECT_EQ(syms[1].name, "main");
  EXPECT_EQ(syms[1].value, 0x200040u);
  EXPECT_EQ(syms[1].size, 32u);
  EXPECT_EQ(syms[1].type, SymbolType::kFunction);
  EXPECT_EQ(syms[2].name, "counter");
  EXPECT_EQ(syms[2].type, SymbolType::kObject);
}

TEST(Elf, SymbolsFromElf32Symtab) {
  ElfSpec s = kernel64();
  s.is64 = false;
  s.machine = 3;
  std::vector<Symbol> syms = elf_symbols(build_elf(s));
  ASSERT_EQ(syms.size(), 3u);
  EXPECT_EQ(syms[1].name, "main");
  EXPECT_EQ(syms[1].value, 0x200040u);
  EXPECT_EQ(syms[1].size, 32u);
  EXPECT_EQ(syms[2].type, SymbolType::kObject);
}

TEST(Elf, StrippedImageHasNoSymbols) {
  ElfSpec s = kernel64();
  s.symbols.clear();
  EXPECT_TRUE(elf_symbols(build_elf(s)).empty());
}

TEST(Elf, MalformedSymbolTablesNameTheField) {
  Bytes good = build_elf(kernel64());
  uint64_t shoff = test::get(good, 40, 8);
  Bytes b = good;
  test::put(b, shoff + 3 * 64 + 32, 1, 8);  // .strtab sh_size 1: names point outside
  expect_image_error([&] { elf_symbols(b); }, {"st_name", "string table"});
  b = good;
  test::put(b, shoff + 2 * 64 + 40, 9, 4);  // .symtab sh_link names no section
  expect_image_error([&] { elf_symbols(b); }, {"sh_link 9"});
  b = good;
  test::put(b, shoff + 2 * 64 + 24, b.size() - 4, 8);  // .symtab sh_offset past the end
  expect_image_error([&] { elf_symbols(b); }, {"section header 2", "sh_offset"});
  b = good;
  test::put(b, 40, b.size() - 10, 8);  // e_shoff: table runs past the end
  expect_image_error([&] { elf_symbols(b); }, {"section header table", "e_shoff"});
  ElfSpec defined_only = kernel64();
  defined_only.symbols.pop_back();  // the last name now belongs to a defined symbol
  b = build_elf(defined_only);
  shoff = test::get(b, 40, 8);
  uint64_t stroff = test::get(b, shoff + 3 * 64 + 24, 8);
  uint64_t strsize = test::get(b, shoff + 3 * 64 + 32, 8);
  b[stroff + strsize - 1] = 'x';  // last name loses its NUL
  expect_image_error([&] { elf_symbols(b); }, {"not NUL-terminated"});
}

TEST(Elf, NotesAreReadFromPtNote) {
  ElfSpec s = kernel64();
  Bytes note;
  test::put(note, 0, 4, 4), test::put(note, 4, 3, 4), test::put(note, 8, 0x1234, 4);
  note.insert(note.end(), {'G', 'N', 'U', 0, 0xa, 0xb, 0xc, 0});
  s.segments.push_back({4 /* PT_NOTE */, 0, 0, note, 0});
  Bytes image = build_elf(s);
  ElfImage elf = parse_elf(image);
  std::vector<ElfNote> notes = elf_notes(image, elf);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].name, "GNU");
  EXPECT_EQ(notes[0].type, 0x1234u);
  EXPECT_EQ(Bytes(notes[0].desc.begin(), notes[0].desc.end()), (Bytes{0xa, 0xb, 0xc}));
  test::put(note, 4, 300, 4);  // descsz runs past the segment
  s.segments.back().data = note;
  image = build_elf(s);
  expect_image_error([&] { elf_notes(image, parse_elf(image)); }, {"PT_NOTE", "descsz 300"});
}

TEST(Elf, TruncationAndCorruptionNeverCrash) {
  ElfSpec s = kernel64();
  Bytes note = {4, 0, 0, 0, 4, 0, 0, 0, 18, 0, 0, 0, 'X', 'e', 'n', 0, 1, 2, 3, 4};
  s.segments.push_back({4, 0, 0, note, 0});
  VectorMemory mem(8 * MiB);
  for (bool is64 : {true, false}) {
    s.is64 = is64;
    s.machine = is64 ? 62 : 3;
    Bytes image = build_elf(s);
    size_t errors = test::expect_no_crash(image, [&](const Bytes& b) {
      ElfImage elf = parse_elf(b);
      elf_notes(b, elf);
      elf_symbols(b);
      if (elf.is64) load_elf64(b, mem);
    });
    EXPECT_GT(errors, image.size());  // every truncation at least is an error
  }
}

TEST(Elf, TruncatedImageSaysTruncated) {
  Bytes image = build_elf(kernel64());
  expect_image_error([&] { parse_elf(Bytes(image.begin(), image.begin() + 10)); },
                     {"truncated", "e_ident"});
  expect_image_error([&] { parse_elf(Bytes(image.begin(), image.begin() + 100)); },
                     {"program header table"});
  expect_image_error([&] { parse_elf(Bytes(image.begin(), image.begin() + 300)); },
                     {"program header 0", "past the end"});
}

}  // namespace
}  // namespace rrvm
