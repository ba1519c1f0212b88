#include "vmm/pci_setup.h"

#include <stdexcept>

#include "devices/io_device.h"
#include "devices/pci_config.h"

namespace rrvm {

namespace {

uint32_t read32(PciDevice& dev, uint8_t offset) {
  uint8_t b[4];
  dev.config_read(offset, b);
  return static_cast<uint32_t>(load_le(b));
}

void write32(PciDevice& dev, uint8_t offset, uint32_t v) {
  uint8_t b[4];
  store_le(b, v);
  dev.config_write(offset, b);
}

void write8(PciDevice& dev, uint8_t offset, uint8_t v) {
  dev.config_write(offset, {&v, 1});
}

// Places one BAR with the sizing protocol (PCI 3.0, 6.2.5.1): write all ones,
// read back the size mask, then write a naturally aligned base.
bool place_bar(PciDevice& dev, int bar, uint32_t& io_next, uint32_t& mem_next,
               PciBarAssignment& out) {
  uint8_t reg = static_cast<uint8_t>(PciConfig::kBar0 + 4 * bar);
  write32(dev, reg, 0xFFFFFFFF);
  uint32_t mask = read32(dev, reg);
  if (mask == 0 || mask == 0xFFFFFFFF) return false;  // not implemented
  bool io = mask & 1;
  uint32_t size = ~(mask & (io ? ~3u : ~15u)) + 1;
  uint32_t& next = io ? io_next : mem_next;
  uint32_t base = (next + size - 1) & ~(size - 1);
  next = base + size;
  write32(dev, reg, base);
  out.bar = bar;
  out.io = io;
  out.base = base;
  out.size = size;
  return true;
}

}  // namespace

std::vector<PciBarAssignment> setup_pci(PciHost& host, PiixIsa& isa, PicPair& pic,
                                        const PlatformLayout& layout) {
  // PIIX3 PIRQ route control (82371SB datasheet, 2.2.9 PIRQRC[A:D]) and
  // the ELCR bits that make those IRQs level-triggered, as PCI INTx# is.
  uint16_t elcr = 0;
  for (int p = 0; p < PiixIsa::kPirqs; ++p) {
    write8(isa, static_cast<uint8_t>(PiixIsa::kPirqRouteBase + p), layout.pirq_to_pic_irq[p]);
    elcr |= static_cast<uint16_t>(1u << layout.pirq_to_pic_irq[p]);
  }
  pic.set_elcr(elcr);

  std::vector<PciBarAssignment> placed;
  uint32_t io_next = kPciIoStart, mem_next = layout.pci_mmio_base;
  for (int slot = 0; slot < PciHost::kDevices; ++slot) {
    for (int fn = 0; fn < PciHost::kFunctions; ++fn) {
      PciDevice* dev = host.function_at(slot, fn);
      if (!dev || slot == 0) continue;  // the host bridge has no BARs
      uint16_t cmd = 0;
      for (int bar = 0; bar < PciConfig::kBarCount; ++bar) {
        PciBarAssignment a{slot, fn};
        if (!place_bar(*dev, bar, io_next, mem_next, a)) continue;
        cmd |= a.io ? PciConfig::kCmdIo : PciConfig::kCmdMemory;
        placed.push_back(a);
      }
      if (io_next > 0x10000 || mem_next > layout.pci_mmio_limit) {
        throw std::runtime_error("PCI BARs do not fit the host bridge windows");
      }
      uint8_t pin = 0;
      dev->config_read(PciConfig::kInterruptPin, {&pin, 1});
      if (pin) write8(*dev, PciConfig::kInterruptLine, pic_irq_for(layout, slot, pin));
      cmd |= PciConfig::kCmdBusMaster;
      uint8_t c[2] = {static_cast<uint8_t>(cmd), static_cast<uint8_t>(cmd >> 8)};
      dev->config_write(PciConfig::kCommand, c);
    }
  }
  return placed;
}

}  // namespace rrvm
