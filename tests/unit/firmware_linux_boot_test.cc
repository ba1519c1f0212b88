// Linux boot protocol loader against Documentation/arch/x86/boot.rst (setup
// header, 32- and 64-bit boot protocols) and zero-page.rst (boot_params
// offsets), and the PVH entry against Xen's hvm_start_info layout.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "firmware/e820.h"
#include "firmware/linux_boot.h"
#include "tests/unit/firmware_test_images.h"

namespace rrvm {
namespace {

using test::Bytes;
using test::expect_image_error;
using test::peek;
using test::peek_bytes;
using test::peek_string;

constexpr uint64_t MiB = 1ull << 20;

using test::build_bzimage;
using test::BzSpec;

TEST(LinuxBoot, RecognisesTheHdrSSignature) {
  EXPECT_TRUE(is_bzimage(build_bzimage({})));
  EXPECT_FALSE(is_bzimage(Bytes(0x300, 0)));
  EXPECT_FALSE(is_bzimage(Bytes(0x204, 0)));  // too short to hold the signature
  LinuxSetupHeader h = parse_bzimage_header(build_bzimage({}));
  EXPECT_EQ(h.version, 0x020f);
  EXPECT_EQ(h.setup_bytes, 5u * 512);
  EXPECT_EQ(h.header_end, 0x26cu);
  EXPECT_TRUE(h.kernel64());
}

TEST(LinuxBoot, ProtectedModeKernelGoesToOneMiBAnd64BitEntryIsPlus0x200) {
  VectorMemory mem(64 * MiB);
  BzSpec s;
  LoadedImage img = load_linux(build_bzimage(s), {}, "", mem);
  EXPECT_EQ(img.protocol, BootProtocol::kLinux);
  EXPECT_EQ(peek_bytes(mem, 0x100000, s.kernel.size()), s.kernel);
  EXPECT_TRUE(img.long_mode_entry);
  EXPECT_EQ(img.entry, 0x100200u);
  EXPECT_EQ(img.info_addr, 0x7000u);                // RSI
  EXPECT_EQ(img.kernel_end, 0x100000u + 0x200000);  // init_size reserves room
}

TEST(LinuxBoot, WithoutXlKernel64TheEntryIs32BitAtCode32Start) {
  VectorMemory mem(64 * MiB);
  BzSpec s;
  s.xloadflags = 0;
  LoadedImage img = load_linux(build_bzimage(s), {}, "", mem);
  EXPECT_FALSE(img.long_mode_entry);
  EXPECT_EQ(img.entry, 0x100000u);
  s.xloadflags = 1;
  s.version = 0x020b;  // xloadflags only exists from 2.12
  EXPECT_FALSE(load_linux(build_bzimage(s), {}, "", mem).long_mode_entry);
}

TEST(LinuxBoot, ZeroPageCarriesHeaderCommandLineAndE820) {
  VectorMemory mem(64 * MiB);
  Bytes image = build_bzimage({});
  LoadedImage img = load_linux(image, {}, "console=ttyS0 root=/dev/vda", mem);
  const uint64_t zp = img.info_addr;
  EXPECT_EQ(peek(mem, zp + 0x202, 4), 0x53726448u);  // setup header copied to 0x1f1
  EXPECT_EQ(peek(mem, zp + 0x206, 2), 0x020fu);
  EXPECT_EQ(peek(mem, zp + 0x1fe, 2), 0xaa55u);
  EXPECT_EQ(peek(mem, zp + 0x238, 4), 2047u);
  EXPECT_EQ(peek(mem, zp + 0x210, 1), 0xffu);  // type_of_loader: undefined
  uint8_t loadflags = peek(mem, zp + 0x211, 1);
  EXPECT_TRUE(loadflags & 0x01);                   // LOADED_HIGH
  EXPECT_FALSE(loadflags & 0x80);                  // CAN_USE_HEAP: no setup heap
  EXPECT_EQ(peek(mem, zp + 0x214, 4), 0x100000u);  // code32_start
  EXPECT_EQ(peek_string(mem, peek(mem, zp + 0x228, 4)), "console=ttyS0 root=/dev/vda");
  EXPECT_EQ(peek(mem, zp + 0x218, 4), 0u);  // no initrd
  EXPECT_EQ(peek(mem, zp + 0x21c, 4), 0u);
  EXPECT_EQ(peek(mem, zp + 0x1ef, 1), 0u);  // sentinel clear: the fields are valid
  std::vector<E820Entry> want = build_e820(64 * MiB);
  ASSERT_EQ(peek(mem, zp + 0x1e8, 1), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    uint64_t e = zp + 0x2d0 + 20 * i;  // struct boot_e820_entry: addr, size, type
    EXPECT_EQ(peek(mem, e, 8), want[i].addr);
    EXPECT_EQ(peek(mem, e + 8, 8), want[i].size);
    EXPECT_EQ(peek(mem, e + 16, 4), want[i].type);
  }
}

TEST(LinuxBoot, InitrdSitsHighBelowInitrdAddrMax) {
  VectorMemory mem(64 * MiB);
  BzSpec s;
  s.initrd_addr_max = 16 * MiB - 1;  // last byte the initrd may occupy
  Bytes initrd = test::pattern(10000, 99);
  LoadedImage img = load_linux(build_bzimage(s), initrd, "", mem);
  uint64_t addr = peek(mem, img.info_addr + 0x218, 4);
  EXPECT_EQ(peek(mem, img.info_addr + 0x21c, 4), initrd.size());
  EXPECT_EQ(addr % 4096, 0u);
  EXPECT_LE(addr + initrd.size() - 1, s.initrd_addr_max);
  EXPECT_GT(addr + initrd.size(), 16 * MiB - 4096 - 4096);  // as high as alignment allows
  EXPECT_GE(addr, img.kernel_end);
  EXPECT_EQ(peek_bytes(mem, addr, initrd.size()), initrd);
}

TEST(LinuxBoot, InitrdIsBoundedByRamWhenInitrdAddrMaxIsHigher) {
  VectorMemory mem(32 * MiB);
  Bytes initrd(5 * 4096, 7);
  LoadedImage img = load_linux(build_bzimage({}), initrd, "", mem);
  EXPECT_EQ(peek(mem, img.info_addr + 0x218, 4), 32 * MiB - 5 * 4096);
}

TEST(LinuxBoot, InitrdThatDoesNotFitIsAnError) {
  VectorMemory mem(8 * MiB);
  expect_image_error([&] { load_linux(build_bzimage({}), Bytes(6 * MiB, 1), "", mem); },
                     {"initrd", "6291456 bytes", "does not fit"});
}

TEST(LinuxBoot, CommandLineLongerThanCmdlineSizeIsAnError) {
  VectorMemory mem(64 * MiB);
  BzSpec s;
  s.cmdline_size = 16;
  EXPECT_NO_THROW(load_linux(build_bzimage(s), {}, std::string(16, 'a'), mem));
  expect_image_error([&] { load_linux(build_bzimage(s), {}, std::string(17, 'a'), mem); },
                     {"17 bytes", "at most 16", "cmdline_size"});
}

TEST(LinuxBoot, HeaderErrorsNameTheField) {
  VectorMemory mem(64 * MiB);
  BzSpec old;
  old.version = 0x0205;
  expect_image_error([&] { load_linux(build_bzimage(old), {}, "", mem); }, {"2.05", "2.06"});
  BzSpec zimage;
  zimage.loadflags = 0;
  expect_image_error([&] { load_linux(build_bzimage(zimage), {}, "", mem); },
                     {"zImage", "LOADED_HIGH"});
  Bytes b = build_bzimage({});
  b[0x1fe] = 0;
  expect_image_error([&] { load_linux(b, {}, "", mem); }, {"boot_flag", "0xaa00", "0xaa55"});
  b = build_bzimage({});
  b[0x201] = 0x20;  // header ends at 0x222, before cmdline_size
  expect_image_error([&] { load_linux(b, {}, "", mem); }, {"setup header ends at 0x222"});
  expect_image_error([&] { load_linux(Bytes(100, 0), {}, "", mem); }, {"not a Linux kernel"});
}

TEST(LinuxBoot, TruncatedImagesAreReported) {
  VectorMemory mem(64 * MiB);
  Bytes b = build_bzimage({});
  expect_image_error([&] { load_linux(Bytes(b.begin(), b.end() - 100), {}, "", mem); },
                     {"truncated", "syssize"});
  b[0x1f1] = 60;  // setup_sects: protected-mode kernel would start past the end
  expect_image_error([&] { load_linux(b, {}, "", mem); }, {"truncated", "setup_sects"});
}

TEST(LinuxBoot, SetupSectsZeroMeansFour) {
  BzSpec s;
  s.setup_sects = 0;
  EXPECT_EQ(parse_bzimage_header(build_bzimage(s)).setup_bytes, 5u * 512);
}

TEST(LinuxBoot, KernelThatNeedsMoreThanRamIsAnError) {
  VectorMemory mem(8 * MiB);
  BzSpec s;
  s.init_size = 16 * MiB;
  expect_image_error([&] { load_linux(build_bzimage(s), {}, "", mem); },
                     {"needs 16777216 bytes", "init_size", "8 MiB"});
}

// An ELF vmlinux with the PVH note (namesz 4 "Xen", type 18).
Bytes pvh_vmlinux(Bytes desc) {
  test::ElfSpec s;
  s.entry = 0xffffffff81000000;  // e_entry is virtual in a vmlinux
  s.segments.push_back({1, 0x1000000, 0xffffffff81000000, test::pattern(4000, 8), 0x3000});
  Bytes note;
  test::put(note, 0, 4, 4), test::put(note, 4, desc.size(), 4), test::put(note, 8, 18, 4);
  note = test::concat(note, Bytes{'X', 'e', 'n', 0});
  note = test::concat(note, desc);
  s.segments.push_back({4, 0, 0, note, 0});
  return test::build_elf(s);
}

TEST(LinuxBoot, PvhEntryAndStartInfo) {
  VectorMemory mem(64 * MiB);
  Bytes image = pvh_vmlinux({0x40, 0x01, 0x00, 0x01, 0, 0, 0, 0});  // 8-byte _ASM_PTR
  ASSERT_TRUE(is_pvh_elf(image));
  Bytes initrd = test::pattern(8192, 3);
  LoadedImage img = load_linux(image, initrd, "console=hvc0", mem);
  EXPECT_EQ(img.protocol, BootProtocol::kPvh);
  EXPECT_FALSE(img.long_mode_entry);
  EXPECT_EQ(img.entry, 0x1000140u);
  EXPECT_EQ(peek_bytes(mem, 0x1000000, 4000), test::pattern(4000, 8));
  const uint64_t si = img.info_addr;             // EBX
  EXPECT_EQ(peek(mem, si + 0, 4), 0x336ec578u);  // magic
  EXPECT_EQ(peek(mem, si + 4, 4), 1u);           // version
  EXPECT_EQ(peek_string(mem, peek(mem, si + 24, 8)), "console=hvc0");
  ASSERT_EQ(peek(mem, si + 12, 4), 1u);  // nr_modules
  uint64_t mod = peek(mem, si + 16, 8);  // hvm_modlist_entry: paddr, size, cmdline, reserved
  EXPECT_EQ(peek(mem, mod + 8, 8), initrd.size());
  EXPECT_EQ(peek_bytes(mem, peek(mem, mod, 8), initrd.size()), initrd);
  EXPECT_GE(peek(mem, mod, 8), img.kernel_end);
  std::vector<E820Entry> want = build_e820(64 * MiB);
  ASSERT_EQ(peek(mem, si + 48, 4), want.size());  // memmap_entries
  uint64_t map = peek(mem, si + 40, 8);
  for (size_t i = 0; i < want.size(); ++i) {  // hvm_memmap_table_entry: addr, size, type, rsvd
    EXPECT_EQ(peek(mem, map + 24 * i, 8), want[i].addr);
    EXPECT_EQ(peek(mem, map + 24 * i + 8, 8), want[i].size);
    EXPECT_EQ(peek(mem, map + 24 * i + 16, 4), want[i].type);
  }
}

TEST(LinuxBoot, PvhFourByteNoteAndNoInitrd) {
  VectorMemory mem(64 * MiB);
  LoadedImage img = load_linux(pvh_vmlinux({0x00, 0x02, 0x00, 0x01}), {}, "", mem);
  EXPECT_EQ(img.entry, 0x1000200u);
  EXPECT_EQ(peek(mem, img.info_addr + 12, 4), 0u);
}

TEST(LinuxBoot, PvhErrors) {
  VectorMemory mem(64 * MiB);
  expect_image_error(
      [&] {
        load_linux(pvh_vmlinux({0, 0, 0, 1, 1, 0, 0, 0}), {}, "", mem);
      },
      {"XEN_ELFNOTE_PHYS32_ENTRY", "above 4 GiB"});
  expect_image_error([&] { load_linux(pvh_vmlinux({0, 0, 0}), {}, "", mem); }, {"3-byte value"});
  expect_image_error(
      [&] {
        load_linux(pvh_vmlinux({0, 0, 0, 2}), {}, "", mem);
      },
      {"PVH entry 0x2000000", "not a physical address"});
  test::ElfSpec plain;
  plain.entry = 0x1000000;
  plain.segments.push_back({1, 0x1000000, 0x1000000, test::pattern(64, 1), 0});
  Bytes image = test::build_elf(plain);
  EXPECT_FALSE(is_pvh_elf(image));
  expect_image_error([&] { load_linux(image, {}, "", mem); }, {"no PVH entry note", "CONFIG_PVH"});
}

TEST(LinuxBoot, TruncationAndCorruptionNeverCrash) {
  VectorMemory mem(16 * MiB);
  BzSpec s;
  s.init_size = 0x10000;
  s.kernel = test::pattern(600, 1);
  Bytes initrd(100, 5);
  for (const Bytes& image : {build_bzimage(s), pvh_vmlinux({0x40, 0, 0, 1})}) {
    size_t errors = test::expect_no_crash(
        image, [&](const Bytes& b) { load_linux(b, initrd, "console=ttyS0", mem); });
    EXPECT_GT(errors, 0u);
  }
}

// A real distribution kernel, when one is readable: the file named by
// RRVM_LINUX_KERNEL, the one tools/bootstrap.sh fetched, or /boot/vmlinuz-*.
std::filesystem::path find_real_kernel() {
  if (const char* env = std::getenv("RRVM_LINUX_KERNEL")) return env;
  std::error_code ec;
  std::filesystem::path fetched = std::string(RRVM_BINARY_DIR) + "/linux/vmlinuz";
  if (std::filesystem::exists(fetched, ec)) return fetched;
  for (const auto& e : std::filesystem::directory_iterator("/boot", ec)) {
    if (e.path().filename().string().rfind("vmlinuz-", 0) == 0) return e.path();
  }
  return {};
}

TEST(LinuxBoot, LoadsARealKernelImage) {
  std::filesystem::path path = find_real_kernel();
  if (path.empty())
    GTEST_SKIP() << "no kernel fetched by tools/bootstrap.sh, no /boot/vmlinuz-*, and "
                    "RRVM_LINUX_KERNEL unset";
  std::ifstream f(path, std::ios::binary);
  if (!f) GTEST_SKIP() << path << " is not readable by this user";
  Bytes image((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(is_bzimage(image)) << path;
  LinuxSetupHeader h = parse_bzimage_header(image);
  EXPECT_GE(h.version, 0x0206);
  VectorMemory mem(256 * MiB);
  LoadedImage img = load_linux(image, Bytes(4096, 0), "console=ttyS0", mem);
  EXPECT_TRUE(img.long_mode_entry) << "x86-64 kernels since 3.8 set XLF_KERNEL_64";
  EXPECT_EQ(img.entry, 0x100200u);
  EXPECT_EQ(peek_bytes(mem, 0x100000, 4096),
            Bytes(image.begin() + h.setup_bytes, image.begin() + h.setup_bytes + 4096));
  EXPECT_EQ(peek(mem, img.info_addr + 0x202, 4), 0x53726448u);
}

}  // namespace
}  // namespace rrvm
