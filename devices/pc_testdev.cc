#include "devices/pc_testdev.h"

#include <algorithm>
#include <string>

#include "devices/hex.h"

namespace rrvm {
namespace {

// 4-byte registers of the port region, by offset / 4 (pc-testdev.c regions
// "pc-testdev-ioport" at 0xE0, "-flush-page" at 0xE4, "-ioport-byte" at 0xE8).
enum PortRegister { kScratch = 0, kFlushPage = 1, kScratchBytes = 2 };

int port_register(uint64_t offset) {
  return static_cast<int>(offset / 4);
}

constexpr uint16_t kIrqPortBase = 0x2000;  // for messages only: placement is the board's

}  // namespace

PcTestdev::PcTestdev(const std::array<IrqLine*, kIrqLines>& lines, WarnFn warn)
    : lines_(lines), warn_(std::move(warn)) {}

void PcTestdev::restore(const State& s) {
  s_ = s;
  s_.iomem.resize(kIomemSize, 0);  // a State from elsewhere cannot shrink the window
}

std::string_view PcTestdev::Facet::name() const {
  switch (region_) {
    case Region::kPorts:
      return "pc-testdev";
    case Region::kIrqLines:
      return "pc-testdev-irq";
    case Region::kIomem:
      return "pc-testdev-iomem";
  }
  return "pc-testdev";
}

std::string PcTestdev::Facet::register_name(uint64_t offset) const {
  if (region_ == Region::kIrqLines) return "IRQ line " + std::to_string(offset);
  if (region_ != Region::kPorts) return {};
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

void PcTestdev::read(Region r, uint64_t offset, std::span<uint8_t> data) {
  switch (r) {
    case Region::kPorts:
      read_port(offset, data);
      return;
    case Region::kIrqLines:
      warn(warn_, "pc-testdev: read of write-only IRQ line port " + hex(kIrqPortBase + offset) +
                      "; reads all-ones");
      break;
    case Region::kIomem:
      if (!in_iomem(offset, data.size(), "read")) break;
      std::copy_n(s_.iomem.begin() + static_cast<ptrdiff_t>(offset), data.size(), data.begin());
      return;
  }
  store_le(data, ~uint64_t{0});
}

void PcTestdev::write(Region r, uint64_t offset, std::span<const uint8_t> data) {
  switch (r) {
    case Region::kPorts:
      write_port(offset, data);
      return;
    case Region::kIrqLines:
      set_line(offset, data);
      return;
    case Region::kIomem:
      if (!in_iomem(offset, data.size(), "write")) return;
      std::copy(data.begin(), data.end(), s_.iomem.begin() + static_cast<ptrdiff_t>(offset));
      return;
  }
}

// --- 0xE0-0xEB ------------------------------------------------------------------

void PcTestdev::read_port(uint64_t offset, std::span<uint8_t> data) {
  if (port_register(offset) == kFlushPage) {
    warn(warn_, "pc-testdev: read of the write-only flush-page port; reads all-ones");
    store_le(data, ~uint64_t{0});
    return;
  }
  if (!scratch_access(offset, data.size(), "read")) {
    store_le(data, ~uint64_t{0});
    return;
  }
  store_le(data, s_.scratch >> (8 * (offset & 3)));
}

void PcTestdev::write_port(uint64_t offset, std::span<const uint8_t> data) {
  if (port_register(offset) == kFlushPage) {
    // A no-op by design (see the header); QEMU accepts only 4-byte writes.
    if (offset != 4 || data.size() != 4) {
      warn(warn_, "pc-testdev: " + std::to_string(data.size()) + "-byte flush-page write at " +
                      hex(offset) + "; QEMU takes only 4-byte writes");
    }
    return;
  }
  if (!scratch_access(offset, data.size(), "write")) return;
  unsigned shift = 8 * (offset & 3);
  uint64_t mask = ((uint64_t{1} << (8 * data.size())) - 1) << shift;
  uint64_t v = (s_.scratch & ~mask) | ((load_le(data) << shift) & mask);
  s_.scratch = static_cast<uint32_t>(v);
}

// A scratch access must stay inside its 4-byte register.
bool PcTestdev::scratch_access(uint64_t offset, size_t size, const char* what) {
  int reg = port_register(offset);
  if ((reg == kScratch || reg == kScratchBytes) && (offset & 3) + size <= 4) return true;
  warn(warn_, std::string("pc-testdev: ") + std::to_string(size) + "-byte " + what +
                  " at port offset " + hex(offset) + " crosses a register; ignored");
  return false;
}

// --- 0x2000-0x2017 and the iomem window -------------------------------------------

// The IRQ-line ports take byte writes; QEMU's memory core splits a wider
// write into byte writes at consecutive ports (flatview_write_continue
// limits each access to the region's valid.max_access_size), so
// `outl 1, 0x200b` raises line 11 and lowers lines 12-14, and kvm-unit-tests'
// realmode sti-inhibit test relies on that.
void PcTestdev::set_line(uint64_t n, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) set_one_line(n + i, data[i] != 0);
}

void PcTestdev::set_one_line(uint64_t n, bool high) {
  if (n >= kIrqLines) {
    warn(warn_, "pc-testdev: write to IRQ line port " + hex(kIrqPortBase + n) +
                    " past the 24 lines; ignored");
    return;
  }
  uint32_t bit = 1u << n;
  s_.line_levels = high ? s_.line_levels | bit : s_.line_levels & ~bit;
  if (!lines_[n]) {
    warn(warn_, "pc-testdev: line " + std::to_string(n) +
                    " is not an ISA IRQ (QEMU aborts on lines 16-23); ignored");
    return;
  }
  lines_[n]->set_level(high);
}

bool PcTestdev::in_iomem(uint64_t offset, size_t size, const char* what) {
  if (offset <= kIomemSize && size <= kIomemSize - offset) return true;
  warn(warn_,
       std::string("pc-testdev: iomem ") + what + " at " + hex(offset) + " past its end; ignored");
  return false;
}

}  // namespace rrvm
