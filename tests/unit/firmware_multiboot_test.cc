// Multiboot 1 loader against the Multiboot Specification 0.6.96: header
// search and checksum (3.1.1), flags (3.1.2), the a.out kludge (3.1.3), and
// the boot information structure read back at the spec's offsets (3.3).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "firmware/e820.h"
#include "firmware/multiboot.h"
#include "tests/unit/firmware_test_images.h"

namespace rrvm {
namespace {

using test::Bytes;
using test::expect_image_error;
using test::peek;
using test::peek_bytes;
using test::peek_string;

constexpr uint64_t MiB = 1ull << 20;
constexpr uint32_t kPageAlign = 1, kMemInfo = 2, kVideo = 4, kAout = 1u << 16;

// An ELF kernel whose text starts with the Multiboot header, as linkers lay
// out a ".multiboot" section first.
Bytes mb_elf(bool is64, uint32_t flags = kPageAlign | kMemInfo) {
  test::ElfSpec s;
  s.is64 = is64;
  s.machine = is64 ? 62 : 3;
  s.entry = 0x10000c;
  s.segments.push_back({1, 0x100000, 0x100000,
                        test::concat(test::multiboot_header(flags), test::pattern(500, 3)), 0});
  s.segments.push_back({1, 0x101000, 0x101000, test::pattern(16, 5), 0x3000});
  return test::build_elf(s);
}

// A flat a.out-kludge image: 0x40 bytes of code, the header at file offset
// 0x40, more code; loaded at 2 MiB with a 0x2000-byte bss.
Bytes mb_aout(uint32_t load_end_delta = 0x200, uint32_t bss = 0x2000) {
  const uint32_t load = 0x200000;
  test::MbAout a{load + 0x40, load, load_end_delta ? load + load_end_delta : 0,
                 bss ? load + 0x200 + bss : 0, load + 0x60};
  Bytes image = test::pattern(0x40, 11);
  image = test::concat(image, test::multiboot_header(kAout | kMemInfo, &a));
  return test::concat(image, test::pattern(0x200 - image.size(), 13));
}

TEST(Multiboot, FindsHeaderOnlyAlignedInFirst8KiB) {
  Bytes hdr = test::multiboot_header(0);
  Bytes at8180 = test::concat(Bytes(8180, 0), hdr);  // ends exactly at 8192
  EXPECT_TRUE(is_multiboot(at8180));
  EXPECT_EQ(find_multiboot_header(at8180).offset, 8180u);
  EXPECT_FALSE(is_multiboot(test::concat(Bytes(8184, 0), hdr)));  // runs past 8192
  EXPECT_FALSE(is_multiboot(test::concat(Bytes(8192, 0), hdr)));
  EXPECT_FALSE(is_multiboot(test::concat(Bytes(6, 0), hdr)));  // not 4-byte aligned
  EXPECT_FALSE(is_multiboot(Bytes{}));
}

TEST(Multiboot, StrayMagicWithBadChecksumBeforeTheRealHeaderIsSkipped) {
  Bytes stray = test::multiboot_header(0);
  stray[8] ^= 1;
  Bytes image = test::concat(test::concat(stray, Bytes(4, 0)), test::multiboot_header(3));
  EXPECT_EQ(find_multiboot_header(image).offset, 16u);
  EXPECT_EQ(find_multiboot_header(image).flags, 3u);
}

TEST(Multiboot, BadChecksumNamesFoundAndExpectedValues) {
  Bytes image = mb_elf(false);
  size_t hdr = 0;  // the header starts the first segment's data
  while (test::get(image, hdr, 4) != 0x1BADB002) hdr += 4;
  test::put(image, hdr + 8, 0x1234, 4);
  VectorMemory mem(16 * MiB);
  // magic + flags = 0x1badb005, so the checksum must be 0xe4524ffb.
  expect_image_error([&] { load_multiboot(image, {}, mem); },
                     {"checksum", "is 0x1234", "expected 0xe4524ffb"});
  EXPECT_TRUE(is_multiboot(image));  // the magic is there: the loader can say what is wrong
}

TEST(Multiboot, NoHeaderIsAnError) {
  VectorMemory mem(16 * MiB);
  expect_image_error([&] { load_multiboot(Bytes(100, 0), {}, mem); }, {"no Multiboot header"});
}

TEST(Multiboot, InfoStructureAtSpecOffsets) {
  VectorMemory mem(16 * MiB);
  MultibootOptions opts;
  opts.cmdline = "console=ttyS0 debug";
  opts.modules.push_back({test::pattern(5000, 42), "initrd.img"});
  LoadedImage img = load_multiboot(mb_elf(false), opts, mem);
  EXPECT_EQ(img.protocol, BootProtocol::kMultiboot);
  EXPECT_FALSE(img.long_mode_entry);
  EXPECT_EQ(img.entry, 0x10000cu);
  const uint64_t mbi = img.info_addr;
  ASSERT_NE(mbi, 0u);
  uint32_t flags = peek(mem, mbi + 0, 4);
  for (int bit : {0, 2, 3, 6, 9}) EXPECT_TRUE(flags & (1u << bit)) << "flags bit " << bit;
  for (int bit : {1, 4, 5, 11, 12}) EXPECT_FALSE(flags & (1u << bit)) << "flags bit " << bit;
  EXPECT_EQ(peek(mem, mbi + 4, 4), 639u);        // mem_lower, KiB
  EXPECT_EQ(peek(mem, mbi + 8, 4), 15u * 1024);  // mem_upper: 1 MiB .. 16 MiB
  EXPECT_EQ(peek_string(mem, peek(mem, mbi + 16, 4)), "console=ttyS0 debug");
  EXPECT_EQ(peek_string(mem, peek(mem, mbi + 64, 4)), "rrvm");  // boot_loader_name
  // Modules (3.3: mod_start, mod_end, string, reserved).
  ASSERT_EQ(peek(mem, mbi + 20, 4), 1u);
  uint64_t mod = peek(mem, mbi + 24, 4);
  uint64_t start = peek(mem, mod, 4), end = peek(mem, mod + 4, 4);
  EXPECT_EQ(start % 4096, 0u);  // header flags bit 0: page aligned
  EXPECT_GE(start, 0x104000u);  // after the kernel's bss
  EXPECT_EQ(end - start, 5000u);
  EXPECT_EQ(peek_bytes(mem, start, 5000), test::pattern(5000, 42));
  EXPECT_EQ(peek_string(mem, peek(mem, mod + 8, 4)), "initrd.img");
  EXPECT_EQ(img.kernel_end, 0x104000u);
}

TEST(Multiboot, MemoryMapIsTheE820MapWithSizeFields) {
  VectorMemory mem(16 * MiB);
  LoadedImage img = load_multiboot(mb_elf(false), {}, mem);
  uint64_t len = peek(mem, img.info_addr + 44, 4), addr = peek(mem, img.info_addr + 48, 4);
  std::vector<E820Entry> want = build_e820(16 * MiB);
  ASSERT_EQ(len, want.size() * 24);
  for (size_t i = 0; i < want.size(); ++i) {
    uint64_t e = addr + 24 * i;  // each entry: size (not counting itself), base, length, type
    EXPECT_EQ(peek(mem, e, 4), 20u);
    EXPECT_EQ(peek(mem, e + 4, 8), want[i].addr);
    EXPECT_EQ(peek(mem, e + 12, 8), want[i].size);
    EXPECT_EQ(peek(mem, e + 20, 4), want[i].type);
  }
  EXPECT_EQ(peek(mem, addr + 4, 8), 0u);  // first entry: conventional memory
  EXPECT_EQ(peek(mem, addr + 12, 8), 0x9FC00u);
}

TEST(Multiboot, NoModulesStillSaysZeroModules) {
  VectorMemory mem(16 * MiB);
  LoadedImage img = load_multiboot(mb_elf(false), {}, mem);
  EXPECT_TRUE(peek(mem, img.info_addr, 4) & (1u << 3));
  EXPECT_EQ(peek(mem, img.info_addr + 20, 4), 0u);
  EXPECT_EQ(peek_string(mem, peek(mem, img.info_addr + 16, 4)), "");
}

TEST(Multiboot, Elf64KernelLoadsByProgramHeaders) {
  VectorMemory mem(16 * MiB);
  std::fill(mem.bytes().begin(), mem.bytes().end(), 0xAA);
  LoadedImage img = load_multiboot(mb_elf(true), {}, mem);
  EXPECT_FALSE(img.long_mode_entry);  // Multiboot always enters in 32-bit mode
  EXPECT_EQ(img.entry, 0x10000cu);
  EXPECT_EQ(peek(mem, 0x100000, 4), 0x1BADB002u);
  EXPECT_EQ(peek_bytes(mem, 0x101010, 0x3000 - 16), Bytes(0x3000 - 16, 0));  // bss zeroed
}

TEST(Multiboot, AoutKludgeLoadsByHeaderAddresses) {
  VectorMemory mem(16 * MiB);
  std::fill(mem.bytes().begin(), mem.bytes().end(), 0xAA);
  Bytes image = mb_aout();
  LoadedImage img = load_multiboot(image, {}, mem);
  // File offset 0 goes to load_addr: header_addr - load_addr = header offset.
  EXPECT_EQ(peek_bytes(mem, 0x200000, 0x200), image);
  EXPECT_EQ(peek_bytes(mem, 0x200200, 0x2000), Bytes(0x2000, 0));  // to bss_end_addr
  EXPECT_EQ(mem.bytes()[0x202200], 0xAA);
  EXPECT_EQ(img.entry, 0x200060u);
  EXPECT_EQ(img.kernel_end, 0x202200u);
}

TEST(Multiboot, AoutKludgeStartsLoadingAtHeaderOffsetMinusHeaderAddrDelta) {
  // Header at file offset 0x40 but only 0x20 bytes after load_addr: the
  // first 0x20 bytes of the file (say, an a.out exec header) are not loaded.
  test::MbAout a{0x200020, 0x200000, 0x200100, 0, 0x200030};
  Bytes image = test::concat(test::pattern(0x40, 11), test::multiboot_header(kAout, &a));
  image = test::concat(image, test::pattern(0x200, 17));
  VectorMemory mem(16 * MiB);
  LoadedImage img = load_multiboot(image, {}, mem);
  EXPECT_EQ(peek_bytes(mem, 0x200000, 0x100), Bytes(image.begin() + 0x20, image.begin() + 0x120));
  EXPECT_EQ(img.kernel_end, 0x200100u);
}

TEST(Multiboot, AoutKludgeLoadEndZeroLoadsTheWholeFile) {
  VectorMemory mem(16 * MiB);
  Bytes image = test::concat(mb_aout(0, 0), test::pattern(0x300, 77));
  LoadedImage img = load_multiboot(image, {}, mem);
  EXPECT_EQ(peek_bytes(mem, 0x200000, image.size()), image);
  EXPECT_EQ(img.kernel_end, 0x200000u + image.size());
}

TEST(Multiboot, AoutKludgeTakesPrecedenceOverElf) {
  // An ELF file whose header has flags bit 16: the addresses win (3.1.2).
  Bytes elf = mb_elf(false);
  size_t hdr = 0;
  while (test::get(elf, hdr, 4) != 0x1BADB002) hdr += 4;
  Bytes image(elf.begin(), elf.begin() + hdr);
  test::MbAout a{uint32_t(0x300000 + hdr), 0x300000, 0, 0, uint32_t(0x300000 + hdr + 32)};
  image = test::concat(image, test::multiboot_header(kAout, &a));
  image = test::concat(image, test::pattern(64, 1));
  VectorMemory mem(16 * MiB);
  LoadedImage img = load_multiboot(image, {}, mem);
  EXPECT_EQ(img.entry, 0x300000u + hdr + 32);
  EXPECT_EQ(peek(mem, 0x300000, 4), 0x464c457fu);  // the ELF header itself was loaded flat
}

TEST(Multiboot, InconsistentAoutAddressesAreRejected) {
  VectorMemory mem(16 * MiB);
  auto with = [](size_t field, uint32_t v) {
    Bytes b = mb_aout();
    test::put(b, 0x40 + field, v, 4);
    test::put(b, 0x48, 0u - (0x1BADB002u + (kAout | kMemInfo)), 4);  // checksum unchanged
    return b;
  };
  expect_image_error([&] { load_multiboot(with(16, 0x200041), {}, mem); },
                     {"load_addr 0x200041", "header_addr"});
  expect_image_error([&] { load_multiboot(with(20, 0x1ff000), {}, mem); },
                     {"load_end_addr 0x1ff000", "below load_addr"});
  expect_image_error([&] { load_multiboot(with(20, 0x200400), {}, mem); },
                     {"truncated", "load_end_addr"});
  expect_image_error([&] { load_multiboot(with(24, 0x200100), {}, mem); },
                     {"bss_end_addr 0x200100"});
  expect_image_error([&] { load_multiboot(with(28, 0x300000), {}, mem); },
                     {"entry_addr 0x300000", "outside the loaded image"});
}

TEST(Multiboot, UnknownRequiredFlagsAreRefusedOptionalOnesIgnored) {
  VectorMemory mem(16 * MiB);
  expect_image_error([&] { load_multiboot(mb_elf(false, kMemInfo | (1u << 3)), {}, mem); },
                     {"flags 0xa", "bits 0x8"});
  EXPECT_NO_THROW(load_multiboot(mb_elf(false, kMemInfo | (1u << 20)), {}, mem));
}

TEST(Multiboot, VideoModeRequestIsAcceptedWithAWarning) {
  VectorMemory mem(16 * MiB);
  LoadedImage img = load_multiboot(mb_elf(false, kMemInfo | kVideo), {}, mem);
  ASSERT_EQ(img.warnings.size(), 1u);
  EXPECT_NE(img.warnings[0].find("video"), std::string::npos);
  EXPECT_FALSE(peek(mem, img.info_addr, 4) & (3u << 11));  // no VBE or framebuffer info
}

TEST(Multiboot, SegmentOutsideRamNamesSegmentAndAddress) {
  test::ElfSpec s;
  s.is64 = false;
  s.machine = 3;
  s.entry = 0x10000c;
  s.segments.push_back(
      {1, 0x100000, 0x100000, test::concat(test::multiboot_header(2), test::pattern(64, 0)), 0});
  s.segments.push_back({1, 0x2000000, 0x2000000, {}, 0x1000});  // 32 MiB, RAM is 16
  VectorMemory mem(16 * MiB);
  expect_image_error([&] { load_multiboot(test::build_elf(s), {}, mem); },
                     {"program header 1", "0x2000000", "outside guest RAM"});
}

// kvm-unit-tests' realmode.flat: linked at 0x8000 (it drops to real mode),
// where the boot data area normally is. The area moves to 0x20000 and
// modules go above 1 MiB.
Bytes low_elf(uint64_t at, uint64_t bss) {
  test::ElfSpec s;
  s.is64 = false;
  s.machine = 3;
  s.entry = at + 0xc;
  s.segments.push_back(
      {1, at, at, test::concat(test::multiboot_header(kMemInfo), test::pattern(64, 0)), bss});
  return test::build_elf(s);
}

TEST(Multiboot, KernelLinkedInConventionalMemoryMovesTheBootData) {
  VectorMemory mem(16 * MiB);
  MultibootOptions opts;
  opts.cmdline = "low";
  opts.modules.push_back({test::pattern(100, 7), "env"});
  LoadedImage img = load_multiboot(low_elf(0x8000, 0x5000), opts, mem);
  EXPECT_EQ(img.info_addr, 0x20000u);
  EXPECT_EQ(peek_bytes(mem, 0x8000, 12), test::multiboot_header(kMemInfo)) << "kernel intact";
  EXPECT_EQ(peek_string(mem, peek(mem, img.info_addr + 16, 4)), "low");
  uint64_t mod = peek(mem, img.info_addr + 24, 4);
  EXPECT_GE(mod, 0x20000u);
  EXPECT_GE(peek(mem, mod, 4), 0x100000u) << "modules above 1 MiB";
  EXPECT_EQ(peek_bytes(mem, peek(mem, mod, 4), 100), test::pattern(100, 7));
  // Clear of the first place: the boot data stays where it always was.
  EXPECT_EQ(load_multiboot(low_elf(0x40000, 0x1000), {}, mem).info_addr, 0x8000u);
}

TEST(Multiboot, ConventionalMemoryKernelsMustMissTheBootData) {
  VectorMemory mem(16 * MiB);
  // Over both places of the boot data area.
  expect_image_error([&] { load_multiboot(low_elf(0x8000, 0x30000), {}, mem); },
                     {"both places", "0x8000", "0x20000"});
  // Into the EBDA, or the IVT and BIOS data area.
  expect_image_error(
      [&] { load_multiboot(low_elf(0x9f000, 0x1000), {}, mem); },
      {"program header 0", "[0x9f000, 0xa0000)", "[0x500, 0x8000) and [0x20000, 0x9fc00)"});
  expect_image_error([&] { load_multiboot(low_elf(0x400, 0x100), {}, mem); },
                     {"program header 0", "overlaps rrvm's boot data below 1 MiB"});
  // A plain ELF64 kernel gets no such room.
  test::ElfSpec s;
  s.is64 = true;
  s.machine = 62;
  s.entry = 0x8000;
  s.segments.push_back({1, 0x8000, 0x8000, test::pattern(64, 0), 0});
  expect_image_error([&] { load_elf64(test::build_elf(s), mem); }, {"lies below 1 MiB"});
}

TEST(Multiboot, ModulesThatDoNotFitAreRejected) {
  VectorMemory mem(4 * MiB);
  MultibootOptions opts;
  opts.modules.push_back({Bytes(3 * MiB, 1), "big.img"});
  expect_image_error([&] { load_multiboot(mb_elf(false), opts, mem); },
                     {"module 0 (big.img)", "does not fit"});
  opts.modules.assign(129, {Bytes{}, "m"});
  expect_image_error([&] { load_multiboot(mb_elf(false), opts, mem); }, {"129", "at most 128"});
}

TEST(Multiboot, OverlongCommandLineIsRejected) {
  VectorMemory mem(16 * MiB);
  MultibootOptions opts;
  opts.cmdline.assign(200000, 'x');
  expect_image_error([&] { load_multiboot(mb_elf(false), opts, mem); },
                     {"kernel command line", "200000 bytes"});
}

TEST(Multiboot, TruncationAndCorruptionNeverCrash) {
  VectorMemory mem(16 * MiB);
  MultibootOptions opts{"cmd", {{test::pattern(100, 1), "mod"}}};
  for (const Bytes& image : {mb_elf(false), mb_elf(true), mb_aout()}) {
    size_t errors =
        test::expect_no_crash(image, [&](const Bytes& b) { load_multiboot(b, opts, mem); });
    EXPECT_GT(errors, 0u);
  }
}

TEST(Multiboot, TruncatedElfSaysTruncated) {
  VectorMemory mem(16 * MiB);
  Bytes image = mb_elf(false);
  expect_image_error([&] { load_multiboot(Bytes(image.begin(), image.end() - 200), {}, mem); },
                     {"program header 0", "past the end"});
}

// The freestanding test guests, when the build made them (RRVM_BUILD_GUESTS).
TEST(Multiboot, LoadsTheBuiltHelloGuest) {
  std::filesystem::path path = std::filesystem::path(RRVM_GUEST_DIR) / "hello.elf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not built (RRVM_BUILD_GUESTS=OFF)";
  std::ifstream f(path, std::ios::binary);
  Bytes image((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  VectorMemory mem(32 * MiB);
  LoadedImage img = load_multiboot(image, {"hello", {}}, mem);
  EXPECT_GE(img.entry, 0x100000u);
  EXPECT_LT(img.entry, img.kernel_end);
  EXPECT_EQ(peek_string(mem, peek(mem, img.info_addr + 16, 4)), "hello");
}

}  // namespace
}  // namespace rrvm
