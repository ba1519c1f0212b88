#include "devices/fw_cfg.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "devices/hex.h"

namespace rrvm {
namespace {

// Register offsets from the base (fw_cfg.rst "Register Locations", x86).
constexpr uint64_t kSelectorData = 0, kData = 1, kDmaHigh = 4, kDmaLow = 8;

// The key bits that name an item: index 13:0 plus the x86-specific bit 15;
// bit 14 (the write channel, unused since QEMU 2.4) does not.
constexpr uint16_t kKeyMask = 0xbfff;

// FW_CFG_ID (fw_cfg.rst "Revision / feature bitmap").
constexpr uint32_t kIdTraditional = 1u << 0, kIdDma = 1u << 1;

// FWCfgDmaAccess.control (fw_cfg.rst "Guest-side DMA Interface").
constexpr uint32_t kDmaError = 1u << 0, kDmaRead = 1u << 1, kDmaSkip = 1u << 2;
constexpr uint32_t kDmaSelect = 1u << 3, kDmaWrite = 1u << 4;
constexpr uint64_t kDmaAccessSize = 16;  // be32 control, be32 length, be64 address

// Reading the DMA address register returns this, big-endian ("QEMU CFG").
constexpr std::array<uint8_t, 8> kDmaSignature = {'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G'};

std::vector<uint8_t> le(uint64_t v, size_t bytes) {
  std::vector<uint8_t> out(bytes);
  store_le(out, v);
  return out;
}

void put_be(std::vector<uint8_t>& out, uint64_t v, size_t bytes) {
  for (size_t i = bytes; i-- > 0;) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t load_be(std::span<const uint8_t> data) {
  uint64_t v = 0;
  for (uint8_t b : data) v = v << 8 | b;
  return v;
}

}  // namespace

FwCfg::FwCfg(const Content& content, GuestMemory& memory, WarnFn warn)
    : memory_(memory), warn_(std::move(warn)) {
  add(kSignature, {'Q', 'E', 'M', 'U'});
  add(kId, le(kIdTraditional | kIdDma, 4));
  add(kRamSize, le(content.ram_size, 8));
  add(kNbCpus, le(content.cpus, 2));
  add(kMaxCpus, le(content.cpus, 2));  // no CPU hot-plug: the maximum is what there is
  std::vector<uint8_t> cmdline(content.cmdline.begin(), content.cmdline.end());
  cmdline.push_back(0);
  add(kCmdlineSize, le(cmdline.size(), 4));
  add(kCmdlineData, std::move(cmdline));
  add_files(content.files);
}

void FwCfg::add(uint16_t key, std::vector<uint8_t> bytes) {
  items_[key] = std::move(bytes);
}

// The directory (fw_cfg.rst "File Directory"): be32 count, then per file
// be32 size, be16 key, be16 reserved, char name[56].
void FwCfg::add_files(const std::map<std::string, std::vector<uint8_t>>& files) {
  std::vector<uint8_t> dir;
  put_be(dir, files.size(), 4);
  uint16_t key = kFileFirst;
  for (const auto& [name, bytes] : files) {
    if (name.size() >= kFileNameMax) {
      throw std::invalid_argument("fw_cfg file name '" + name + "' is longer than " +
                                  std::to_string(kFileNameMax - 1) + " characters");
    }
    put_be(dir, bytes.size(), 4);
    put_be(dir, key, 2);
    put_be(dir, 0, 2);
    dir.insert(dir.end(), name.begin(), name.end());
    dir.resize(dir.size() + kFileNameMax - name.size(), 0);
    add(key++, bytes);
  }
  add(kFileDir, std::move(dir));
}

std::span<const uint8_t> FwCfg::item(uint16_t key) const {
  auto it = items_.find(key & kKeyMask);
  if (it == items_.end()) return {};
  return it->second;
}

void FwCfg::select(uint16_t key) {
  s_.selector = key;
  s_.offset = 0;
}

uint8_t FwCfg::next_byte() {
  std::span<const uint8_t> data = item(s_.selector);
  if (s_.offset >= data.size()) return 0;
  return data[s_.offset++];
}

// --- Port access -------------------------------------------------------------

void FwCfg::read(uint64_t offset, std::span<uint8_t> data) {
  if ((offset == kSelectorData || offset == kData) && data.size() == 1) {
    data[0] = next_byte();
    return;
  }
  if (offset >= kDmaHigh && offset + data.size() <= kDmaHigh + kDmaSignature.size()) {
    std::copy_n(kDmaSignature.begin() + (offset - kDmaHigh), data.size(), data.begin());
    return;
  }
  warn(warn_, "fw_cfg: " + std::to_string(data.size()) + "-byte read at offset " + hex(offset) +
                  " (the data register is 8-bit); reads all-ones");
  store_le(data, ~uint64_t{0});
}

void FwCfg::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset == kSelectorData && data.size() == 2) {
    select(static_cast<uint16_t>(load_le(data)));
  } else if ((offset == kSelectorData || offset == kData) && data.size() == 1) {
    warn(warn_, "fw_cfg: data register write of " + hex(data[0]) +
                    " ignored (items are read-only; QEMU >= 2.4 writes only through DMA)");
  } else if (offset >= kDmaHigh) {
    write_dma(offset, data);
  } else {
    warn(warn_, "fw_cfg: " + std::to_string(data.size()) + "-byte write at offset " + hex(offset) +
                    " ignored (the selector is a 16-bit write)");
  }
}

void FwCfg::write_dma(uint64_t offset, std::span<const uint8_t> data) {
  uint64_t v = load_be(data);
  if (offset == kDmaHigh && data.size() == 4) {
    s_.dma_address = v << 32;  // QEMU replaces the whole register here
  } else if (offset == kDmaLow && data.size() == 4) {
    s_.dma_address |= v;
    run_dma();
  } else if (offset == kDmaHigh && data.size() == 8) {
    s_.dma_address = v;
    run_dma();
  } else {
    warn(warn_, "fw_cfg: " + std::to_string(data.size()) + "-byte DMA address write at offset " +
                    hex(offset) + " ignored (32-bit halves at 4 and 8, or 64 bits at 4)");
  }
}

std::string FwCfg::register_name(uint64_t offset) const {
  if (offset == kSelectorData) return "selector/data";
  if (offset == kData) return "data";
  if (offset >= kDmaHigh && offset < kDmaLow) return "DMA address high";
  if (offset >= kDmaLow && offset < kIoSize) return "DMA address low";
  return {};
}

// --- DMA ------------------------------------------------------------------------

void FwCfg::run_dma() {
  uint64_t at = s_.dma_address;
  s_.dma_address = 0;  // fw_cfg.rst: the register reads 0 after an operation
  std::array<uint8_t, kDmaAccessSize> access{};
  uint32_t result = kDmaError;
  if (!memory_.read(at, access)) {
    warn(warn_, "fw_cfg: DMA access structure at " + hex(at) + " is outside RAM");
  } else {
    result = transfer(static_cast<uint32_t>(load_be(std::span(access).subspan(0, 4))),
                      static_cast<uint32_t>(load_be(std::span(access).subspan(4, 4))),
                      load_be(std::span(access).subspan(8, 8)));
  }
  std::vector<uint8_t> control;
  put_be(control, result, 4);
  memory_.write(at, control);  // may fail too when `at` is outside RAM: nothing to tell then
}

// One FWCfgDmaAccess: returns the control word to write back (0 or error).
// As in QEMU, the offset advances over the bytes of the item that were
// taken even when writing them to guest memory failed.
uint32_t FwCfg::transfer(uint32_t control, uint32_t length, uint64_t address) {
  if (control & kDmaSelect) select(static_cast<uint16_t>(control >> 16));
  bool read = control & kDmaRead;
  if (!read && (control & kDmaWrite)) {
    warn(warn_, "fw_cfg: DMA write to item " + hex(s_.selector) + " refused (read-only)");
    return kDmaError;
  }
  if (!read && !(control & kDmaSkip)) return 0;  // nothing asked
  if (address > UINT64_MAX - length) {
    warn(warn_, "fw_cfg: DMA of " + std::to_string(length) + " bytes at " + hex(address) +
                    " wraps around the address space");
    return kDmaError;
  }
  std::span<const uint8_t> data = item(s_.selector);
  size_t avail = s_.offset < data.size() ? data.size() - s_.offset : 0;
  auto n = static_cast<uint32_t>(std::min<size_t>(length, avail));
  bool ok = true;
  if (read) {
    ok = (n == 0 || memory_.write(address, data.subspan(s_.offset, n))) &&
         fill_zeros(address + n, length - n);
  }
  s_.offset += n;
  if (!ok) {
    warn(warn_, "fw_cfg: DMA read of " + std::to_string(length) + " bytes to " + hex(address) +
                    " reaches outside RAM");
  }
  return ok ? 0 : kDmaError;
}

// Past the item's end a DMA read delivers zeros (as QEMU's dma_memory_set).
bool FwCfg::fill_zeros(uint64_t address, uint32_t length) {
  static constexpr std::array<uint8_t, 4096> kZeros{};
  while (length > 0) {
    uint32_t n = std::min<uint32_t>(length, kZeros.size());
    if (!memory_.write(address, std::span(kZeros).first(n))) return false;
    address += n;
    length -= n;
  }
  return true;
}

}  // namespace rrvm
