// The BIOS's PCI set-up (vmm/pci_setup.h): BAR placement through the sizing
// protocol, decode enables, Interrupt Line and the PIIX3 PIRQ links.
#include "vmm/pci_setup.h"

#include <gtest/gtest.h>

#include "devices/pci_config.h"

namespace rrvm {
namespace {

struct Fixture {
  PciHost host;
  PiixIsa isa;
  PicPair pic;
  PlatformLayout layout = default_layout(true);
  PciConfig nic{PciConfig::Identity{0x10ec, 0x8139, 0x20, 0x020000}};
  Fixture() {
    nic.add_bar(0, PciConfig::BarKind::kIo, 256);
    nic.add_bar(1, PciConfig::BarKind::kMem32, 256);
    nic.set_interrupt_pin(1);
    host.attach(1, 0, isa);
    host.attach(kNicSlot, 0, nic);
  }
};

TEST(PciSetup, PlacesBarsAlignedInTheirWindowsAndEnablesDecode) {
  Fixture f;
  auto bars = setup_pci(f.host, f.isa, f.pic, f.layout);
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_TRUE(bars[0].io);
  EXPECT_EQ(bars[0].base, kPciIoStart);
  EXPECT_EQ(bars[0].size, 256u);
  EXPECT_FALSE(bars[1].io);
  EXPECT_EQ(bars[1].base, f.layout.pci_mmio_base);
  EXPECT_EQ(f.nic.bar_base(0), kPciIoStart);
  EXPECT_TRUE(f.nic.bar_enabled(0));
  EXPECT_TRUE(f.nic.bar_enabled(1));
  EXPECT_TRUE(f.nic.bus_master());
}

TEST(PciSetup, InterruptLineAndPirqLinksFollowTheLayout) {
  Fixture f;
  setup_pci(f.host, f.isa, f.pic, f.layout);
  // Slot 3 INTA# -> PIRQC -> 8259 IRQ 11 (firmware/platform_layout.h).
  EXPECT_EQ(f.nic.read8(PciConfig::kInterruptLine), 11);
  for (int p = 0; p < PiixIsa::kPirqs; ++p) {
    ASSERT_TRUE(f.isa.pirq_route(p).has_value());
    EXPECT_EQ(*f.isa.pirq_route(p), f.layout.pirq_to_pic_irq[p]);
  }
}

TEST(PciSetup, SecondIoBarFollowsTheFirstWithoutOverlap) {
  Fixture f;
  PciConfig other{PciConfig::Identity{0x1234, 0x5678, 0, 0x020000}};
  other.add_bar(0, PciConfig::BarKind::kIo, 32);
  f.host.attach(4, 0, other);
  auto bars = setup_pci(f.host, f.isa, f.pic, f.layout);
  EXPECT_EQ(other.bar_base(0), kPciIoStart + 256);
  EXPECT_EQ(bars.size(), 3u);
}

}  // namespace
}  // namespace rrvm
