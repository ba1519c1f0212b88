#include "firmware/multiboot.h"

#include <algorithm>
#include <array>
#include <optional>

#include "devices/hex.h"
#include "firmware/boot_layout.h"
#include "firmware/e820.h"
#include "firmware/image_io.h"
#include "firmware/load_error.h"

namespace rrvm {

namespace {

// Header (spec 3.1.1): within the first 8192 bytes, 32-bit aligned; magic,
// flags and checksum are 12 bytes, the a.out-kludge address fields 20 more.
constexpr uint64_t kSearchLimit = 8192;
constexpr uint64_t kHeaderSize = 12, kAoutHeaderSize = 32;

// Header flags (spec 3.1.2). Bits 0-15 are requirements: a loader that does
// not understand one must refuse the image. Bits 16-31 are optional.
constexpr uint32_t kFlagPageAlign = 1u << 0;  // modules 4 KiB aligned: always done
constexpr uint32_t kFlagMemInfo = 1u << 1;    // mem_* and mmap: always provided
constexpr uint32_t kFlagVideoMode = 1u << 2;  // video table: accepted, not provided
constexpr uint32_t kFlagAoutKludge = 1u << 16;
constexpr uint32_t kRequiredMask = 0xffff;
constexpr uint32_t kUnderstood = kFlagPageAlign | kFlagMemInfo | kFlagVideoMode;

// Boot information (spec 3.3): flags and field offsets.
constexpr uint32_t kInfoMem = 1u << 0, kInfoCmdline = 1u << 2, kInfoMods = 1u << 3;
constexpr uint32_t kInfoMmap = 1u << 6, kInfoLoaderName = 1u << 9;
constexpr size_t kInfoBytes = 88;
constexpr size_t kOffFlags = 0, kOffMemLower = 4, kOffMemUpper = 8, kOffCmdline = 16;
constexpr size_t kOffModsCount = 20, kOffModsAddr = 24, kOffMmapLength = 44, kOffMmapAddr = 48;
constexpr size_t kOffLoaderName = 64;
constexpr size_t kModEntryBytes = 16;     // mod_start, mod_end, string, reserved
constexpr uint32_t kMmapEntryBytes = 24;  // size (= 20), base_addr, length, type
constexpr uint64_t kPage = 4096;
constexpr uint64_t k4GiB = 0x100000000;

// magic + flags + checksum, which spec 3.1.2 requires to be 0 (mod 2^32).
uint32_t checksum_error(const ImageReader& r, uint64_t off) {
  return r.u32(off, "magic") + r.u32(off + 4, "flags") + r.u32(off + 8, "checksum");
}

MultibootHeader read_header(const ImageReader& r, uint64_t off) {
  MultibootHeader h;
  h.offset = off;
  h.flags = r.u32(off + 4, "Multiboot flags");
  if (!(h.flags & kFlagAoutKludge)) return h;
  if (off + kAoutHeaderSize > kSearchLimit) {
    throw ImageError("Multiboot header at offset " + hex(off) +
                     ": the a.out kludge address fields (flags bit 16) end past the first 8192 "
                     "bytes");
  }
  h.header_addr = r.u32(off + 12, "Multiboot header_addr");
  h.load_addr = r.u32(off + 16, "Multiboot load_addr");
  h.load_end_addr = r.u32(off + 20, "Multiboot load_end_addr");
  h.bss_end_addr = r.u32(off + 24, "Multiboot bss_end_addr");
  h.entry_addr = r.u32(off + 28, "Multiboot entry_addr");
  return h;
}

// Video mode (bit 2) is honoured by saying nothing: the spec lets a loader
// leave the mode as it is and report no video information (bits 11/12).
void check_flags(uint32_t flags, LoadedImage& img) {
  uint32_t unknown = flags & kRequiredMask & ~kUnderstood;
  if (unknown) {
    throw ImageError("Multiboot header flags " + hex(flags) + " require features rrvm does not " +
                     "provide (bits " + hex(unknown) + " of the required bits 0-15)");
  }
  if (flags & kFlagVideoMode) {
    img.warnings.push_back(
        "Multiboot header asks for a video mode (flags bit 2); rrvm has no display and "
        "provides no video information");
  }
}

// Spec 3.1.3: the file offset to load from is the header's offset minus
// (header_addr - load_addr); load_end_addr 0 means "to the end of the file";
// bss_end_addr 0 means no bss.
void load_aout_kludge(std::span<const uint8_t> image, const MultibootHeader& h, GuestMemory& mem,
                      LoadedImage& out, std::span<const MemRange> low_windows) {
  if (h.load_addr > h.header_addr || h.header_addr - h.load_addr > h.offset) {
    throw ImageError("Multiboot a.out kludge: load_addr " + hex(h.load_addr) +
                     " is inconsistent with header_addr " + hex(h.header_addr) +
                     " and the header's file offset " + hex(h.offset));
  }
  uint64_t file_off = h.offset - (h.header_addr - h.load_addr);
  if (h.load_end_addr && h.load_end_addr < h.load_addr) {
    throw ImageError("Multiboot a.out kludge: load_end_addr " + hex(h.load_end_addr) +
                     " is below load_addr " + hex(h.load_addr));
  }
  uint64_t len = h.load_end_addr ? h.load_end_addr - h.load_addr : image.size() - file_off;
  ImageReader r(image, "Multiboot");
  auto text = r.bytes(file_off, len, "a.out kludge text and data (load_addr to load_end_addr)");
  uint64_t end = uint64_t{h.load_addr} + len;
  if (h.bss_end_addr && h.bss_end_addr < end) {
    throw ImageError("Multiboot a.out kludge: bss_end_addr " + hex(h.bss_end_addr) +
                     " is below the end of the loaded data " + hex(end));
  }
  uint64_t bss_end = h.bss_end_addr ? uint64_t{h.bss_end_addr} : end;
  check_kernel_placement("Multiboot a.out kludge image", h.load_addr, bss_end - h.load_addr,
                         low_windows, mem.size());
  if (h.entry_addr < h.load_addr || h.entry_addr >= end) {
    throw ImageError("Multiboot entry_addr " + hex(h.entry_addr) +
                     " is outside the loaded image [" + hex(h.load_addr) + ", " + hex(end) + ")");
  }
  write_guest(mem, h.load_addr, text, "Multiboot a.out kludge image");
  zero_guest(mem, end, bss_end - end, "Multiboot bss");
  out.entry = h.entry_addr;
  out.segments.push_back({h.load_addr, bss_end - h.load_addr});
  out.kernel_end = bss_end;
}

void load_elf_kernel(std::span<const uint8_t> image, const ElfImage& elf, GuestMemory& mem,
                     LoadedImage& out, std::span<const MemRange> low_windows) {
  out.entry = elf_physical_entry(elf);
  if (out.entry >= k4GiB) {
    throw ImageError("Multiboot ELF entry point " + hex(out.entry) +
                     " is above 4 GiB; the kernel is entered in 32-bit mode");
  }
  load_elf_segments(image, elf, mem, out, low_windows);
}

// Where the kernel will be: the ELF segments, or the a.out kludge's
// load_addr to its end (checked in detail when it is loaded).
std::vector<MemRange> kernel_ranges(std::span<const uint8_t> image, const MultibootHeader& h,
                                    const std::optional<ElfImage>& elf) {
  std::vector<MemRange> out;
  if (elf) {
    for (const ElfSegment& s : elf->loads) out.push_back({s.paddr, s.paddr + s.memsz});
    return out;
  }
  uint64_t end = std::max<uint64_t>({h.load_addr, h.load_end_addr, h.bss_end_addr});
  if (end == h.load_addr) end = h.load_addr + image.size();
  out.push_back({h.load_addr, end});
  return out;
}

// The Multiboot boot data area: its first place clear of the kernel, and
// what the kernel may use below 1 MiB around it (firmware/boot_layout.h).
struct BootDataArea {
  uint32_t base = 0;
  std::array<MemRange, 2> low_windows;
};

BootDataArea choose_area(const std::vector<MemRange>& kernel) {
  for (uint32_t base : kMultibootAreas) {
    uint64_t end = uint64_t{base} + kMultibootAreaSize;
    bool clear = std::none_of(kernel.begin(), kernel.end(),
                              [&](const MemRange& r) { return r.begin < end && base < r.end; });
    if (clear) return {base, {{{kConventionalMin, base}, {end, kConventionalEnd}}}};
  }
  throw ImageError("the kernel covers both places rrvm has for its Multiboot boot data (" +
                   hex(kMultibootAreas[0]) + " and " + hex(kMultibootAreas[1]) + ", " +
                   hex(kMultibootAreaSize) + " bytes each); link it at or above 0x100000");
}

// Builds the info structure on the host; strings go straight to guest memory.
class InfoBuilder {
 public:
  InfoBuilder(GuestMemory& mem, uint32_t base)
      : mem_(mem), info_(kInfoBytes, 0), base_(base), next_(base + kMultibootStringsOff) {}

  uint32_t base() const { return base_; }
  uint32_t add_string(const std::string& s, const std::string& what) {
    if (s.size() + 1 > base_ + kMultibootStringsEnd - next_) {
      throw ImageError(what + " (" + std::to_string(s.size()) + " bytes) does not fit in the " +
                       std::to_string(kMultibootStringsEnd - kMultibootStringsOff) +
                       "-byte Multiboot string area");
    }
    std::vector<uint8_t> bytes(s.begin(), s.end());
    bytes.push_back(0);
    uint32_t addr = next_;
    write_guest(mem_, addr, bytes, what);
    next_ += static_cast<uint32_t>(bytes.size());
    return addr;
  }
  void set(size_t off, uint32_t v, uint32_t flag) {
    put32(info_, off, v);
    flags_ |= flag;
  }
  void finish() {
    put32(info_, kOffFlags, flags_);
    write_guest(mem_, base_ + kMultibootInfoOff, info_, "Multiboot information");
  }

 private:
  GuestMemory& mem_;
  std::vector<uint8_t> info_;
  uint32_t flags_ = 0;
  uint32_t base_;
  uint32_t next_;
};

void write_memory_info(GuestMemory& mem, InfoBuilder& info) {
  std::vector<E820Entry> map = build_e820(mem.size());
  // mem_lower: KiB from 0; mem_upper: KiB from 1 MiB to the first hole (3.3).
  info.set(kOffMemLower, static_cast<uint32_t>(e820_usable_at(map, 0) / 1024), kInfoMem);
  info.set(kOffMemUpper, static_cast<uint32_t>(e820_usable_at(map, kHighMemStart) / 1024),
           kInfoMem);
  std::vector<uint8_t> mmap;
  for (const E820Entry& e : map) {
    size_t at = mmap.size();
    put32(mmap, at, kMmapEntryBytes - 4);  // "size" does not count itself
    put64(mmap, at + 4, e.addr);
    put64(mmap, at + 12, e.size);
    put32(mmap, at + 20, e.type);
  }
  if (mmap.size() > kMultibootMmapEnd - kMultibootMmapOff)
    throw ImageError("E820 map has too many entries for the Multiboot mmap area");
  write_guest(mem, info.base() + kMultibootMmapOff, mmap, "Multiboot memory map");
  info.set(kOffMmapLength, static_cast<uint32_t>(mmap.size()), kInfoMmap);
  info.set(kOffMmapAddr, info.base() + kMultibootMmapOff, kInfoMmap);
}

void write_modules(const MultibootOptions& opts, GuestMemory& mem, const LoadedImage& img,
                   InfoBuilder& info) {
  constexpr size_t kMaxModules = (kMultibootModsEnd - kMultibootModsOff) / kModEntryBytes;
  if (opts.modules.size() > kMaxModules) {
    throw ImageError(std::to_string(opts.modules.size()) + " Multiboot modules; at most " +
                     std::to_string(kMaxModules) + " are supported");
  }
  std::vector<E820Entry> map = build_e820(mem.size());
  // Modules go above the kernel, and above 1 MiB for a kernel linked in
  // conventional memory (where they would meet the boot data and the EBDA).
  uint64_t next =
      checked_align_up(std::max(img.kernel_end, kKernelMinAddr), kPage, "module address");
  std::vector<uint8_t> list;
  for (size_t i = 0; i < opts.modules.size(); ++i) {
    const MultibootModule& m = opts.modules[i];
    std::string what = "Multiboot module " + std::to_string(i) + " (" + m.string + ")";
    uint64_t end = next + m.bytes.size();
    if (end >= k4GiB || !e820_contains(map, next, m.bytes.size())) {
      throw ImageError(what + ", " + std::to_string(m.bytes.size()) + " bytes at " + hex(next) +
                       " after the kernel, does not fit in guest RAM below 4 GiB (" +
                       std::to_string(mem.size() >> 20) + " MiB)");
    }
    write_guest(mem, next, m.bytes, what);
    size_t at = list.size();
    put32(list, at, static_cast<uint32_t>(next));
    put32(list, at + 4, static_cast<uint32_t>(end));  // mod_end is exclusive
    put32(list, at + 8, info.add_string(m.string, what + " string"));
    put32(list, at + 12, 0);
    next = checked_align_up(end, kPage, "module address");
  }
  write_guest(mem, info.base() + kMultibootModsOff, list, "Multiboot module list");
  info.set(kOffModsCount, static_cast<uint32_t>(opts.modules.size()), kInfoMods);
  info.set(kOffModsAddr, info.base() + kMultibootModsOff, kInfoMods);
}

}  // namespace

bool is_multiboot(std::span<const uint8_t> image) {
  ImageReader r(image, "Multiboot");
  for (uint64_t off = 0; off + kHeaderSize <= std::min<uint64_t>(r.size(), kSearchLimit); off += 4)
    if (r.u32(off, "magic") == kMultibootMagic) return true;
  return false;
}

MultibootHeader find_multiboot_header(std::span<const uint8_t> image) {
  ImageReader r(image, "Multiboot");
  uint64_t limit = std::min<uint64_t>(r.size(), kSearchLimit);
  std::optional<uint64_t> bad;  // first magic with a wrong checksum
  for (uint64_t off = 0; off + kHeaderSize <= limit; off += 4) {
    if (r.u32(off, "magic") != kMultibootMagic) continue;
    // A stray magic in code may precede the real header: keep looking.
    if (checksum_error(r, off) == 0) return read_header(r, off);
    if (!bad) bad = off;
  }
  if (bad) {
    uint32_t flags = r.u32(*bad + 4, "flags"), checksum = r.u32(*bad + 8, "checksum");
    throw ImageError("Multiboot header checksum at offset " + hex(*bad) + " is " + hex(checksum) +
                     ", expected " + hex(uint32_t(0u - (kMultibootMagic + flags))) +
                     " (magic + flags + checksum must be 0 mod 2^32)");
  }
  throw ImageError(
      "no Multiboot header (magic 0x1badb002, 4-byte aligned) in the first 8192 bytes");
}

LoadedImage load_multiboot(std::span<const uint8_t> image, const MultibootOptions& opts,
                           GuestMemory& mem) {
  MultibootHeader h = find_multiboot_header(image);
  LoadedImage img;
  check_flags(h.flags, img);
  // Bit 16 takes precedence over an ELF header (spec 3.1.2).
  std::optional<ElfImage> elf;
  if (!(h.flags & kFlagAoutKludge)) elf = parse_elf(image);
  BootDataArea area = choose_area(kernel_ranges(image, h, elf));
  if (elf) {
    load_elf_kernel(image, *elf, mem, img, area.low_windows);
  } else {
    load_aout_kludge(image, h, mem, img, area.low_windows);
  }
  InfoBuilder info(mem, area.base);
  info.set(kOffLoaderName, info.add_string("rrvm", "boot loader name"), kInfoLoaderName);
  info.set(kOffCmdline, info.add_string(opts.cmdline, "kernel command line"), kInfoCmdline);
  write_modules(opts, mem, img, info);
  write_memory_info(mem, info);
  info.finish();
  img.protocol = BootProtocol::kMultiboot;
  img.info_addr = area.base + kMultibootInfoOff;
  img.long_mode_entry = false;
  return img;
}

}  // namespace rrvm
