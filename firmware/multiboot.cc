#include "firmware/multiboot.h"

#include <cstring>

#include "devices/hex.h"
#include "firmware/e820.h"
#include "firmware/load_error.h"

namespace rrvm {

namespace {

// Header flags (spec 3.1.2). Bits 0-15 are requirements the loader must
// honour or refuse; bits 16-31 are optional features.
constexpr uint32_t kFlagPageAlign = 1u << 0;  // modules 4 KiB aligned: we always do
constexpr uint32_t kFlagMemInfo = 1u << 1;    // mem_* fields: we always provide them
constexpr uint32_t kFlagVideoMode = 1u << 2;  // no video: refused below
constexpr uint32_t kFlagAoutKludge = 1u << 16;
constexpr uint32_t kSupportedRequired = kFlagPageAlign | kFlagMemInfo;
constexpr size_t kSearchLimit = 8192;

// Info flags (spec 3.3).
constexpr uint32_t kInfoMem = 1u << 0, kInfoCmdline = 1u << 2, kInfoMods = 1u << 3;
constexpr uint32_t kInfoMmap = 1u << 6, kInfoLoaderName = 1u << 9;

constexpr uint32_t kMmapAddr = 0x8100, kModsAddr = 0x8800, kStringsAddr = 0x9000;
constexpr uint32_t kStringsEnd = 0x9FC00;

uint32_t le32(std::span<const uint8_t> b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

// Offset of the header, or -1 (spec 3.1.1: within the first 8192 bytes,
// 32-bit aligned).
long find_header(std::span<const uint8_t> image) {
  size_t limit = std::min(image.size(), kSearchLimit);
  for (size_t off = 0; off + 12 <= limit; off += 4) {
    if (le32(image, off) == kMultibootMagic) return static_cast<long>(off);
  }
  return -1;
}

void put32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  std::memcpy(b.data() + off, &v, 4);
}

// Appends NUL-terminated strings into the string area and returns their address.
class StringArea {
 public:
  explicit StringArea(GuestMemory& mem) : mem_(mem) {}
  uint32_t add(const std::string& s) {
    uint32_t addr = next_;
    if (s.size() + 1 > kStringsEnd - next_)
      throw ImageError("command line and module strings are too long");
    std::vector<uint8_t> bytes(s.begin(), s.end());
    bytes.push_back(0);
    mem_.write(addr, bytes);
    next_ += static_cast<uint32_t>(bytes.size());
    return addr;
  }

 private:
  GuestMemory& mem_;
  uint32_t next_ = kStringsAddr;
};

void load_aout_kludge(std::span<const uint8_t> image, size_t hdr, GuestMemory& mem,
                      LoadedImage& out) {
  if (hdr + 32 > image.size())
    throw ImageError("Multiboot header truncated: a.out kludge fields missing");
  uint32_t header_addr = le32(image, hdr + 12), load_addr = le32(image, hdr + 16);
  uint32_t load_end = le32(image, hdr + 20), bss_end = le32(image, hdr + 24);
  out.entry = le32(image, hdr + 28);
  if (load_addr > header_addr || header_addr - load_addr > hdr) {
    throw ImageError("Multiboot a.out kludge: load_addr " + hex(load_addr) +
                     " is inconsistent with header_addr " + hex(header_addr));
  }
  uint64_t file_off = hdr - (header_addr - load_addr);
  uint64_t len = load_end ? uint64_t(load_end) - load_addr : image.size() - file_off;
  if (load_end && load_end < load_addr)
    throw ImageError("Multiboot a.out kludge: load_end_addr below load_addr");
  if (file_off + len > image.size())
    throw ImageError("Multiboot a.out kludge: load range runs past the end of the file");
  if (!mem.write(load_addr, image.subspan(file_off, len))) {
    throw ImageError("Multiboot image at " + hex(load_addr) + " (" + std::to_string(len) +
                     " bytes) does not fit in guest RAM");
  }
  uint64_t end = load_addr + len;
  if (bss_end > end) {
    std::vector<uint8_t> zeros(bss_end - end, 0);
    if (!mem.write(end, zeros))
      throw ImageError("Multiboot bss up to " + hex(bss_end) + " does not fit in guest RAM");
    end = bss_end;
  }
  out.segments.push_back({load_addr, end - load_addr});
  out.kernel_end = end;
}

void write_mmap(GuestMemory& mem, std::vector<uint8_t>& info) {
  std::vector<uint8_t> mmap;
  for (const E820Entry& e : build_e820(mem.size())) {
    uint8_t entry[24];
    uint32_t size = 20;
    std::memcpy(entry, &size, 4);
    std::memcpy(entry + 4, &e.addr, 8);
    std::memcpy(entry + 12, &e.size, 8);
    std::memcpy(entry + 20, &e.type, 4);
    mmap.insert(mmap.end(), entry, entry + 24);
  }
  mem.write(kMmapAddr, mmap);
  put32(info, 44, static_cast<uint32_t>(mmap.size()));
  put32(info, 48, kMmapAddr);
}

void write_modules(const MultibootOptions& opts, GuestMemory& mem, StringArea& strings,
                   LoadedImage& img, std::vector<uint8_t>& info) {
  uint64_t next = (img.kernel_end + 0xfff) & ~0xfffull;
  std::vector<uint8_t> list;
  for (const auto& m : opts.modules) {
    if (!mem.write(next, m.bytes)) {
      throw ImageError("module " + m.string + " (" + std::to_string(m.bytes.size()) +
                       " bytes) does not fit in guest RAM");
    }
    uint32_t entry[4] = {uint32_t(next), uint32_t(next + m.bytes.size()), strings.add(m.string), 0};
    list.insert(list.end(), reinterpret_cast<uint8_t*>(entry),
                reinterpret_cast<uint8_t*>(entry) + 16);
    next = (next + m.bytes.size() + 0xfff) & ~0xfffull;
  }
  mem.write(kModsAddr, list);
  put32(info, 20, static_cast<uint32_t>(opts.modules.size()));
  put32(info, 24, kModsAddr);
}

}  // namespace

bool is_multiboot(std::span<const uint8_t> image) {
  return find_header(image) >= 0;
}

LoadedImage load_multiboot(std::span<const uint8_t> image, const MultibootOptions& opts,
                           GuestMemory& mem) {
  long pos = find_header(image);
  if (pos < 0) throw ImageError("no Multiboot header in the first 8 KiB");
  size_t hdr = static_cast<size_t>(pos);
  uint32_t flags = le32(image, hdr + 4), checksum = le32(image, hdr + 8);
  if (uint32_t(kMultibootMagic + flags + checksum) != 0) {
    throw ImageError("Multiboot header checksum is " + hex(checksum) + ", expected " +
                     hex(uint32_t(-(kMultibootMagic + flags))) +
                     " (magic + flags + checksum must be 0)");
  }
  uint32_t unsupported = flags & 0xffff & ~kSupportedRequired;
  if (unsupported) {
    throw ImageError("Multiboot header requires features rrvm does not provide (flags " +
                     hex(unsupported) + (unsupported & kFlagVideoMode ? ": video mode" : "") + ")");
  }
  LoadedImage img;
  if (flags & kFlagAoutKludge) {
    load_aout_kludge(image, hdr, mem, img);
  } else {
    ElfImage elf = parse_elf(image);
    load_elf_segments(image, elf, mem, img);
    img.entry = elf.entry;
  }
  std::vector<uint8_t> info(88, 0);
  StringArea strings(mem);
  uint32_t info_flags = kInfoMem | kInfoMmap | kInfoLoaderName;
  put32(info, 4, 639);  // mem_lower in KiB: up to the EBDA
  uint64_t upper = (std::min<uint64_t>(mem.size(), kLowRamLimit) - 0x100000) / 1024;
  put32(info, 8, static_cast<uint32_t>(upper));
  put32(info, 64, strings.add("rrvm"));
  put32(info, 16, strings.add(opts.cmdline));
  info_flags |= kInfoCmdline;
  if (!opts.modules.empty()) {
    write_modules(opts, mem, strings, img, info);
    info_flags |= kInfoMods;
  }
  write_mmap(mem, info);
  put32(info, 0, info_flags);
  mem.write(kMultibootInfoAddr, info);
  img.info_addr = kMultibootInfoAddr;
  img.long_mode_entry = false;
  return img;
}

}  // namespace rrvm
