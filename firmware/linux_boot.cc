#include "firmware/linux_boot.h"

#include <algorithm>
#include <optional>

#include "devices/hex.h"
#include "firmware/boot_layout.h"
#include "firmware/e820.h"
#include "firmware/image_io.h"
#include "firmware/load_error.h"

namespace rrvm {

namespace {

// Setup header (boot.rst, "The Real-Mode Kernel Header"): file offsets,
// identical to the offsets inside struct boot_params.
constexpr uint64_t kHdrStart = 0x1f1;
constexpr uint64_t kSetupSects = 0x1f1, kSyssize = 0x1f4, kBootFlag = 0x1fe, kJumpByte = 0x201;
constexpr uint64_t kHeaderMagic = 0x202, kVersion = 0x206, kTypeOfLoader = 0x210;
constexpr uint64_t kLoadflags = 0x211, kCode32Start = 0x214, kRamdiskImage = 0x218;
constexpr uint64_t kRamdiskSize = 0x21c, kCmdLinePtr = 0x228, kInitrdAddrMax = 0x22c;
constexpr uint64_t kXloadflags = 0x236, kCmdlineSize = 0x238, kPayloadOffset = 0x248;
constexpr uint64_t kPayloadLength = 0x24c, kInitSize = 0x260;
constexpr uint32_t kHdrSMagic = 0x53726448;  // "HdrS"
constexpr uint16_t kBootFlagValue = 0xaa55;
constexpr uint8_t kLoadedHigh = 1u << 0, kCanUseHeap = 1u << 7;
constexpr uint16_t kXlKernel64 = 1u << 0;
constexpr uint8_t kLoaderUndefined = 0xff;  // "no assigned boot loader id"
constexpr uint64_t kSectorSize = 512, kDefaultSetupSects = 4;
constexpr uint64_t kEntry64Offset = 0x200;  // 64-bit entry: load address + 0x200

// struct boot_params (zero-page.rst).
constexpr size_t kZeroPageSize = 4096;
constexpr uint64_t kHdrAreaEnd = 0x290;  // setup header plus _pad7
constexpr size_t kE820Entries = 0x1e8, kE820Table = 0x2d0, kE820Max = 128;

// hvm_start_info (start_info.h), version 1.
constexpr size_t kSiVersion = 4, kSiNrModules = 12, kSiModlist = 16, kSiCmdline = 24;
constexpr size_t kSiMemmap = 40, kSiMemmapEntries = 48, kStartInfoSize = 56;
constexpr size_t kModlistEntrySize = 32, kMemmapEntrySize = 24;

constexpr uint64_t kPage = 4096;

std::string version_str(uint16_t v) {
  return std::to_string(v >> 8) + "." + (((v & 0xff) < 10) ? "0" : "") + std::to_string(v & 0xff);
}

// Field availability by protocol version: the header must reach them.
void check_header_extent(const LinuxSetupHeader& h, uint64_t size) {
  uint64_t need = h.version >= 0x020a ? kInitSize + 4 : kCmdlineSize + 4;
  if (h.header_end < need) {
    throw ImageError("bzImage setup header ends at " + hex(h.header_end) +
                     " (0x202 + the jump byte at 0x201) but protocol " + version_str(h.version) +
                     " defines fields up to " + hex(need));
  }
  if (h.header_end > kHdrAreaEnd) {
    throw ImageError("bzImage setup header end " + hex(h.header_end) +
                     " is beyond the boot_params header area (ends at 0x290)");
  }
  if (h.header_end > size || h.header_end > h.setup_bytes) {
    throw ImageError("bzImage truncated: the setup header ends at " + hex(h.header_end) +
                     " but the setup area is " + hex(h.setup_bytes) + " bytes and the file " +
                     std::to_string(size));
  }
}

// The protected-mode kernel follows the setup sectors and is syssize
// 16-byte paragraphs long (the file may hold more, e.g. a signature).
void check_kernel_size(const LinuxSetupHeader& h, uint64_t size) {
  if (h.setup_bytes >= size) {
    throw ImageError("bzImage truncated: setup_sects puts the protected-mode kernel at offset " +
                     hex(h.setup_bytes) + ", at or past the end of the " + std::to_string(size) +
                     "-byte file");
  }
  uint64_t pm_size = size - h.setup_bytes, sys_bytes = uint64_t{h.syssize} * 16;
  if (sys_bytes > pm_size + 15) {  // syssize is rounded up to 16 bytes
    throw ImageError("bzImage truncated: syssize says the protected-mode kernel is " +
                     std::to_string(sys_bytes) + " bytes, the file holds " +
                     std::to_string(pm_size));
  }
}

// Where the initrd goes: page-aligned, as high as possible with its last
// byte at or below `max_addr`, inside the RAM after 1 MiB, above `kernel_end`.
uint64_t place_initrd(uint64_t size, uint64_t kernel_end, uint64_t max_addr, GuestMemory& mem) {
  std::vector<E820Entry> map = build_e820(mem.size());
  uint64_t ram_end = kHighMemStart + e820_usable_at(map, kHighMemStart);
  uint64_t top = std::min(ram_end, max_addr + 1) & ~(kPage - 1);
  uint64_t floor = checked_align_up(kernel_end, kPage, "kernel end");
  if (size > top || ((top - size) & ~(kPage - 1)) < floor) {
    throw ImageError("initrd (" + std::to_string(size) + " bytes) does not fit between the " +
                     "kernel's end " + hex(floor) + " and " + hex(top) +
                     " (the lower of initrd_addr_max + 1 and the end of low RAM, " +
                     std::to_string(mem.size() >> 20) + " MiB)");
  }
  return (top - size) & ~(kPage - 1);
}

void write_cmdline(const std::string& cmdline, uint64_t limit, GuestMemory& mem) {
  limit = std::min<uint64_t>(limit, kLinuxCmdlineMax - 1);
  if (cmdline.size() > limit) {
    throw ImageError("kernel command line is " + std::to_string(cmdline.size()) +
                     " bytes; this kernel accepts at most " + std::to_string(limit) +
                     " (cmdline_size)");
  }
  std::vector<uint8_t> bytes(cmdline.begin(), cmdline.end());
  bytes.push_back(0);
  write_guest(mem, kLinuxCmdlineAddr, bytes, "kernel command line");
}

void put_e820(std::vector<uint8_t>& zp, GuestMemory& mem) {
  std::vector<E820Entry> map = build_e820(mem.size());
  if (map.size() > kE820Max) throw ImageError("E820 map has more than 128 entries");
  zp[kE820Entries] = static_cast<uint8_t>(map.size());
  std::vector<uint8_t> table = e820_bytes(map);
  std::copy(table.begin(), table.end(), zp.begin() + kE820Table);
}

// The zero page: the image's setup header copied in, then the fields a boot
// loader must fill (boot.rst, "Details of Header Fields": type_of_loader,
// loadflags, code32_start, ramdisk_*, cmd_line_ptr) and the E820 table.
void write_zero_page(std::span<const uint8_t> image, const LinuxSetupHeader& h,
                     uint64_t initrd_addr, uint64_t initrd_size, GuestMemory& mem) {
  std::vector<uint8_t> zp(kZeroPageSize, 0);
  std::copy(image.begin() + kHdrStart, image.begin() + h.header_end, zp.begin() + kHdrStart);
  zp[kTypeOfLoader] = kLoaderUndefined;
  zp[kLoadflags] =
      (h.loadflags | kLoadedHigh) & ~kCanUseHeap;  // no real-mode heap: setup never ran
  put32(zp, kCode32Start, static_cast<uint32_t>(kLinuxKernelAddr));
  put32(zp, kRamdiskImage, static_cast<uint32_t>(initrd_addr));
  put32(zp, kRamdiskSize, static_cast<uint32_t>(initrd_size));
  put32(zp, kCmdLinePtr, kLinuxCmdlineAddr);
  put_e820(zp, mem);
  write_guest(mem, kLinuxZeroPageAddr, zp, "Linux zero page");
}

LoadedImage load_bzimage(std::span<const uint8_t> image, std::span<const uint8_t> initrd,
                         const std::string& cmdline, GuestMemory& mem) {
  LinuxSetupHeader h = parse_bzimage_header(image);
  auto kernel = image.subspan(h.setup_bytes);
  uint64_t need = std::max<uint64_t>(kernel.size(), h.init_size);
  if (!e820_contains(build_e820(mem.size()), kLinuxKernelAddr, need)) {
    throw ImageError("Linux kernel needs " + std::to_string(need) + " bytes from 1 MiB " +
                     "(the larger of its size and init_size); guest RAM is " +
                     std::to_string(mem.size() >> 20) + " MiB");
  }
  write_cmdline(cmdline, h.cmdline_size, mem);
  write_guest(mem, kLinuxKernelAddr, kernel, "Linux protected-mode kernel");
  LoadedImage img;
  img.kernel_end = kLinuxKernelAddr + need;
  uint64_t initrd_addr = 0;
  if (!initrd.empty()) {
    initrd_addr = place_initrd(initrd.size(), img.kernel_end, h.initrd_addr_max, mem);
    write_guest(mem, initrd_addr, initrd, "initrd");
  }
  write_zero_page(image, h, initrd_addr, initrd.size(), mem);
  img.protocol = BootProtocol::kLinux;
  img.long_mode_entry = h.kernel64();
  img.entry = kLinuxKernelAddr + (img.long_mode_entry ? kEntry64Offset : 0);
  img.info_addr = kLinuxZeroPageAddr;
  img.segments.push_back({kLinuxKernelAddr, kernel.size()});
  return img;
}

// The XEN_ELFNOTE_PHYS32_ENTRY value: 4 bytes, or 8 (Linux emits it with
// _ASM_PTR) whose upper half must be zero since the entry is 32-bit.
std::optional<uint32_t> pvh_entry(std::span<const uint8_t> image, const ElfImage& elf) {
  for (const ElfNote& n : elf_notes(image, elf)) {
    if (n.name != "Xen" || n.type != kXenElfnotePhys32Entry) continue;
    if (n.desc.size() != 4 && n.desc.size() != 8) {
      throw ImageError("XEN_ELFNOTE_PHYS32_ENTRY note has a " + std::to_string(n.desc.size()) +
                       "-byte value, expected 4 or 8");
    }
    ImageReader r(n.desc, "PVH note");
    uint64_t v = n.desc.size() == 8 ? r.u64(0, "entry") : r.u32(0, "entry");
    if (v >> 32) throw ImageError("XEN_ELFNOTE_PHYS32_ENTRY " + hex(v) + " is above 4 GiB");
    return static_cast<uint32_t>(v);
  }
  return std::nullopt;
}

void write_start_info(uint64_t initrd_addr, uint64_t initrd_size, GuestMemory& mem) {
  std::vector<E820Entry> map = build_e820(mem.size());
  std::vector<uint8_t> memmap;
  for (const E820Entry& e : map) {  // hvm_memmap_table_entry: addr, size, type, reserved
    size_t at = memmap.size();
    put64(memmap, at, e.addr);
    put64(memmap, at + 8, e.size);
    put32(memmap, at + 16, e.type);  // XEN_HVM_MEMMAP_TYPE_* equal the E820 types
    put32(memmap, at + 20, 0);
  }
  if (memmap.size() > kPvhMemmapEnd - kPvhMemmapAddr)
    throw ImageError("E820 map has too many entries for the PVH memory map area");
  std::vector<uint8_t> si(kStartInfoSize, 0);
  put32(si, 0, kHvmStartMagic);
  put32(si, kSiVersion, 1);
  put64(si, kSiCmdline, kLinuxCmdlineAddr);
  put64(si, kSiMemmap, kPvhMemmapAddr);
  put32(si, kSiMemmapEntries, static_cast<uint32_t>(map.size()));
  if (initrd_size) {
    std::vector<uint8_t> mod(kModlistEntrySize, 0);  // paddr, size, cmdline_paddr, reserved
    put64(mod, 0, initrd_addr);
    put64(mod, 8, initrd_size);
    write_guest(mem, kPvhModlistAddr, mod, "PVH module list");
    put32(si, kSiNrModules, 1);
    put64(si, kSiModlist, kPvhModlistAddr);
  }
  write_guest(mem, kPvhMemmapAddr, memmap, "PVH memory map");
  write_guest(mem, kPvhStartInfoAddr, si, "hvm_start_info");
}

LoadedImage load_pvh(std::span<const uint8_t> image, std::span<const uint8_t> initrd,
                     const std::string& cmdline, GuestMemory& mem) {
  ElfImage elf = parse_elf(image);
  std::optional<uint32_t> entry = pvh_entry(image, elf);
  if (!entry) {
    throw ImageError(
        "ELF kernel has no PVH entry note (Xen XEN_ELFNOTE_PHYS32_ENTRY); build it "
        "with CONFIG_PVH=y or boot the bzImage");
  }
  bool inside = std::any_of(elf.loads.begin(), elf.loads.end(), [&](const ElfSegment& s) {
    return *entry >= s.paddr && *entry - s.paddr < s.memsz;
  });
  if (!inside)
    throw ImageError("PVH entry " + hex(*entry) + " is not a physical address in a loaded segment");
  LoadedImage img;
  load_elf_segments(image, elf, mem, img);
  write_cmdline(cmdline, kLinuxCmdlineMax - 1, mem);
  uint64_t initrd_addr = 0;
  if (!initrd.empty()) {
    initrd_addr = place_initrd(initrd.size(), img.kernel_end, UINT32_MAX, mem);
    write_guest(mem, initrd_addr, initrd, "initrd");
  }
  write_start_info(initrd_addr, initrd.size(), mem);
  img.protocol = BootProtocol::kPvh;
  img.entry = *entry;
  img.long_mode_entry = false;
  img.info_addr = kPvhStartInfoAddr;
  return img;
}

}  // namespace

bool LinuxSetupHeader::kernel64() const {
  return version >= 0x020c && (xloadflags & kXlKernel64);
}

bool is_bzimage(std::span<const uint8_t> image) {
  ImageReader r(image, "bzImage");
  return r.has(kHeaderMagic, 4) && r.u32(kHeaderMagic, "header") == kHdrSMagic;
}

bool is_pvh_elf(std::span<const uint8_t> image) {
  if (!is_elf(image)) return false;
  try {
    return pvh_entry(image, parse_elf(image)).has_value();
  } catch (const ImageError&) {
    return false;
  }
}

LinuxSetupHeader parse_bzimage_header(std::span<const uint8_t> image) {
  ImageReader r(image, "bzImage");
  if (!is_bzimage(image))
    throw ImageError("not a Linux kernel image: no \"HdrS\" signature at offset 0x202");
  uint16_t boot_flag = r.u16(kBootFlag, "boot_flag");
  if (boot_flag != kBootFlagValue)
    throw ImageError("bzImage boot_flag at 0x1fe is " + hex(boot_flag) + ", expected 0xaa55");
  LinuxSetupHeader h;
  h.version = r.u16(kVersion, "version");
  if (h.version < kLinuxMinVersion) {
    throw ImageError("Linux boot protocol version " + version_str(h.version) +
                     " is too old; rrvm needs 2.06 or later (Linux 2.6.22+)");
  }
  uint64_t sects = r.u8(kSetupSects, "setup_sects");
  h.setup_bytes = ((sects ? sects : kDefaultSetupSects) + 1) * kSectorSize;
  h.header_end = 0x202 + uint64_t{r.u8(kJumpByte, "jump")};
  check_header_extent(h, r.size());
  h.loadflags = r.u8(kLoadflags, "loadflags");
  if (!(h.loadflags & kLoadedHigh))
    throw ImageError("zImage (loadflags LOADED_HIGH clear, kernel at 0x10000) is not supported");
  h.syssize = r.u32(kSyssize, "syssize");
  h.initrd_addr_max = r.u32(kInitrdAddrMax, "initrd_addr_max");
  h.cmdline_size = r.u32(kCmdlineSize, "cmdline_size");
  if (h.version >= 0x0208) {
    h.payload_offset = r.u32(kPayloadOffset, "payload_offset");
    h.payload_length = r.u32(kPayloadLength, "payload_length");
  }
  if (h.version >= 0x020a) h.init_size = r.u32(kInitSize, "init_size");
  if (h.version >= 0x020c) h.xloadflags = r.u16(kXloadflags, "xloadflags");
  check_kernel_size(h, r.size());
  return h;
}

LoadedImage load_linux(std::span<const uint8_t> kernel, std::span<const uint8_t> initrd,
                       const std::string& cmdline, GuestMemory& mem) {
  if (is_bzimage(kernel)) return load_bzimage(kernel, initrd, cmdline, mem);
  if (is_elf(kernel)) return load_pvh(kernel, initrd, cmdline, mem);
  throw ImageError("not a Linux kernel: neither a bzImage (\"HdrS\" at 0x202) nor an ELF vmlinux");
}

}  // namespace rrvm
