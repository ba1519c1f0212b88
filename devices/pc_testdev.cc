#include "devices/pc_testdev.h"

#include <algorithm>
#include <string>

#include "devices/hex.h"

namespace rrvm {
namespace {

// 4-byte registers of the port facet, by offset / 4 (pc-testdev.c regions
// "pc-testdev-ioport" at 0xE0, "-flush-page" at 0xE4, "-ioport-byte" at 0xE8).
enum PortRegister { kScratch = 0, kFlushPage = 1, kScratchBytes = 2 };

int port_register(uint64_t offset) {
  return static_cast<int>(offset / 4);
}

}  // namespace

PcTestdev::PcTestdev(const std::array<IrqLine*, kIrqLines>& lines, WarnFn warn)
    : lines_(lines), warn_(std::move(warn)) {}

void PcTestdev::restore(const State& s) {
  s_ = s;
  s_.iomem.resize(kIomemSize, 0);  // a State from elsewhere cannot shrink the window
}

// A scratch access must stay inside its 4-byte register.
bool PcTestdev::scratch_access(uint64_t offset, size_t size, const char* what) {
  int reg = port_register(offset);
  if ((reg == kScratch || reg == kScratchBytes) && (offset & 3) + size <= 4) return true;
  warn(warn_, std::string("pc-testdev: ") + std::to_string(size) + "-byte " + what +
                  " at port offset " + hex(offset) + " crosses a register; " +
                  (what[0] == 'r' ? "reads all-ones" : "ignored"));
  return false;
}

void PcTestdev::set_line(int n, uint8_t value) {
  bool high = value != 0;
  s_.line_levels = high ? s_.line_levels | (1u << n) : s_.line_levels & ~(1u << n);
  if (!lines_[n]) {
    warn(warn_, "pc-testdev: line " + std::to_string(n) +
                    " is not an ISA IRQ (QEMU aborts on lines 16-23); ignored");
    return;
  }
  lines_[n]->set_level(high);
}

// --- 0xE0-0xEB ------------------------------------------------------------------

void PcTestdev::Ports::read(uint64_t offset, std::span<uint8_t> data) {
  if (port_register(offset) == kFlushPage) {
    warn(t_.warn_, "pc-testdev: read of the write-only flush-page port; reads all-ones");
    store_le(data, ~uint64_t{0});
    return;
  }
  if (!t_.scratch_access(offset, data.size(), "read")) {
    store_le(data, ~uint64_t{0});
    return;
  }
  store_le(data, t_.s_.scratch >> (8 * (offset & 3)));
}

void PcTestdev::Ports::write(uint64_t offset, std::span<const uint8_t> data) {
  if (port_register(offset) == kFlushPage) {
    // A no-op by design (see the header); QEMU accepts only 4-byte writes.
    if (offset != 4 || data.size() != 4) {
      warn(t_.warn_, "pc-testdev: " + std::to_string(data.size()) + "-byte flush-page write at " +
                         hex(offset) + "; QEMU takes only 4-byte writes");
    }
    return;
  }
  if (!t_.scratch_access(offset, data.size(), "write")) return;
  unsigned shift = 8 * (offset & 3);
  uint64_t mask = ((uint64_t{1} << (8 * data.size())) - 1) << shift;
  uint64_t v = (t_.s_.scratch & ~mask) | ((load_le(data) << shift) & mask);
  t_.s_.scratch = static_cast<uint32_t>(v);
}

std::string PcTestdev::Ports::register_name(uint64_t offset) const {
  switch (port_register(offset)) {
    case kScratch:
      return "ioport";
    case kFlushPage:
      return "flush-page";
    case kScratchBytes:
      return "ioport-byte";
  }
  return {};
}

// --- 0x2000-0x2017 ----------------------------------------------------------------

void PcTestdev::IrqPorts::read(uint64_t offset, std::span<uint8_t> data) {
  warn(t_.warn_,
       "pc-testdev: read of write-only IRQ line port " + hex(0x2000 + offset) + "; reads all-ones");
  store_le(data, ~uint64_t{0});
}

void PcTestdev::IrqPorts::write(uint64_t offset, std::span<const uint8_t> data) {
  if (data.size() != 1 || offset >= kIrqLines) {
    warn(t_.warn_, "pc-testdev: " + std::to_string(data.size()) +
                       "-byte write to IRQ line port offset " + hex(offset) +
                       " ignored (byte writes only)");
    return;
  }
  t_.set_line(static_cast<int>(offset), data[0]);
}

// --- 0xFF000000, 64 KiB ---------------------------------------------------------

void PcTestdev::Iomem::read(uint64_t offset, std::span<uint8_t> data) {
  if (offset > kIomemSize || data.size() > kIomemSize - offset) {
    warn(t_.warn_, "pc-testdev: iomem read at " + hex(offset) + " past its end; reads all-ones");
    store_le(data, ~uint64_t{0});
    return;
  }
  std::copy_n(t_.s_.iomem.begin() + static_cast<ptrdiff_t>(offset), data.size(), data.begin());
}

void PcTestdev::Iomem::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset > kIomemSize || data.size() > kIomemSize - offset) {
    warn(t_.warn_, "pc-testdev: iomem write at " + hex(offset) + " past its end; ignored");
    return;
  }
  std::copy(data.begin(), data.end(), t_.s_.iomem.begin() + static_cast<ptrdiff_t>(offset));
}

}  // namespace rrvm
