// PCI configuration mechanism #1, the type 0 header and BAR sizing (PCI Local
// Bus Specification 3.0, 3.2.2.3.2 and 6.2), the PIIX3 ISA bridge's PIRQ
// route registers (82371SB datasheet 2.2.10) and INTx routing on the PC.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "devices/pci_config.h"
#include "devices/pci_host.h"
#include "devices/pci_irq_router.h"
#include "devices/piix_isa.h"

namespace rrvm {
namespace {

uint32_t in(IoDevice& dev, uint64_t offset, size_t width) {
  uint8_t b[4] = {};
  dev.read(offset, std::span<uint8_t>(b, width));
  return static_cast<uint32_t>(load_le(std::span<const uint8_t>(b, width)));
}
void out(IoDevice& dev, uint64_t offset, size_t width, uint32_t v) {
  uint8_t b[4] = {};
  store_le(std::span<uint8_t>(b, width), v);
  dev.write(offset, std::span<const uint8_t>(b, width));
}

constexpr uint32_t cfg_address(int dev, int fn, int reg, int bus = 0) {
  return 0x80000000u | uint32_t(bus) << 16 | uint32_t(dev) << 11 | uint32_t(fn) << 8 |
         uint32_t(reg & 0xfc);
}

// A machine's PCI side as an OS reaches it through ports 0xCF8/0xCFC.
struct Pci {
  PciHost host;
  uint32_t read(int dev, int fn, int reg, size_t width = 4) {
    out(host.address_io(), 0, 4, cfg_address(dev, fn, reg));
    return in(host.data_io(), reg & 3, width);
  }
  void write(int dev, int fn, int reg, uint32_t v, size_t width = 4) {
    out(host.address_io(), 0, 4, cfg_address(dev, fn, reg));
    out(host.data_io(), reg & 3, width, v);
  }
};

PciConfig::Identity nic_identity() {
  PciConfig::Identity id;
  id.vendor = 0x10ec;
  id.device = 0x8139;
  id.revision = 0x20;
  id.class_code = 0x020000;
  return id;
}

TEST(PciHost, HostBridgeIsI440fxAt0000) {
  Pci pci;
  EXPECT_EQ(pci.read(0, 0, 0x00), 0x12378086u);
  EXPECT_EQ(pci.read(0, 0, 0x08), 0x06000002u);  // class 06/00/00, revision 02
  EXPECT_EQ(pci.read(0, 0, 0x0e, 1), 0x00u);     // single-function, type 0 header
}

TEST(PciHost, AddressRegisterReadsBackLatchWithReservedBitsZero) {
  Pci pci;
  out(pci.host.address_io(), 0, 4, 0x80000000);  // Linux's pci_check_type1 probe
  EXPECT_EQ(in(pci.host.address_io(), 0, 4), 0x80000000u);
  out(pci.host.address_io(), 0, 4, 0xffffffff);
  EXPECT_EQ(in(pci.host.address_io(), 0, 4), 0x80fffffcu);
  EXPECT_EQ(in(pci.host.address_io(), 3, 1), 0x80u);
}

TEST(PciHost, NarrowWritesToAddressPortAreNotConfigAccesses) {
  std::vector<std::string> warnings;
  PciHost host([&](const std::string& m) { warnings.push_back(m); });
  out(host.address_io(), 0, 4, 0x80000000);
  out(host.address_io(), 3, 1, 0x01);  // outb(0x01, 0xCFB): passes through as ordinary I/O
  out(host.address_io(), 0, 2, 0x1234);
  EXPECT_EQ(in(host.address_io(), 0, 4), 0x80000000u);
  EXPECT_EQ(warnings.size(), 2u);
}

TEST(PciHost, EnableBitClearReadsAllOnesAndDropsWrites) {
  Pci pci;
  out(pci.host.address_io(), 0, 4, cfg_address(0, 0, 0) & 0x7fffffff);
  EXPECT_EQ(in(pci.host.data_io(), 0, 4), 0xffffffffu);
  EXPECT_EQ(in(pci.host.data_io(), 2, 2), 0xffffu);
  out(pci.host.address_io(), 0, 4, cfg_address(0, 0, 0x3c) & 0x7fffffff);
  out(pci.host.data_io(), 0, 1, 0x0b);
  EXPECT_EQ(pci.read(0, 0, 0x3c, 1), 0x00u);
}

TEST(PciHost, AbsentFunctionAndOtherBusesReadAllOnes) {
  Pci pci;
  EXPECT_EQ(pci.read(5, 0, 0x00), 0xffffffffu);
  EXPECT_EQ(pci.read(0, 1, 0x00), 0xffffffffu);
  pci.write(5, 0, 0x04, 0x7);  // nobody there: ignored
  out(pci.host.address_io(), 0, 4, cfg_address(0, 0, 0, /*bus=*/1));
  EXPECT_EQ(in(pci.host.data_io(), 0, 4), 0xffffffffu);
}

TEST(PciHost, SubDwordAccessesSelectBytesOfTheRegister) {
  Pci pci;
  EXPECT_EQ(pci.read(0, 0, 0x02, 2), 0x1237u);  // word at 0xCFE
  EXPECT_EQ(pci.read(0, 0, 0x01, 1), 0x80u);    // byte at 0xCFD
  EXPECT_EQ(pci.read(0, 0, 0x0b, 1), 0x06u);    // base class, byte at 0xCFF
  pci.write(0, 0, 0x0d, 0x40, 1);               // latency timer
  EXPECT_EQ(pci.read(0, 0, 0x0c), 0x00004000u);
}

TEST(PciHost, AttachRejectsOccupiedAndOutOfRangeSlots) {
  PciHost host;
  PciConfig dev(nic_identity());
  EXPECT_THROW(host.attach(0, 0, dev), std::invalid_argument);
  EXPECT_THROW(host.attach(32, 0, dev), std::invalid_argument);
  EXPECT_THROW(host.attach(3, 8, dev), std::invalid_argument);
  host.attach(3, 0, dev);
  EXPECT_EQ(host.function_at(3, 0), &dev);
}

TEST(PciConfig, IdentityIsReadOnlyAndCommandHasOnlyImplementedBits) {
  Pci pci;
  PciConfig dev(nic_identity());
  pci.host.attach(3, 0, dev);
  pci.write(3, 0, 0x00, 0);
  pci.write(3, 0, 0x08, 0);
  EXPECT_EQ(pci.read(3, 0, 0x00), 0x813910ecu);
  EXPECT_EQ(pci.read(3, 0, 0x08), 0x02000020u);
  pci.write(3, 0, 0x04, 0x0000ffff);
  EXPECT_EQ(pci.read(3, 0, 0x04, 2), 0x0547u);  // I/O, MEM, master, PERR, SERR, INTx disable
}

TEST(PciConfig, InterruptLineWritablePinReadOnly) {
  Pci pci;
  PciConfig dev(nic_identity());
  dev.set_interrupt_pin(1);
  pci.host.attach(3, 0, dev);
  pci.write(3, 0, 0x3c, 0xffff);
  EXPECT_EQ(pci.read(3, 0, 0x3c, 2), 0x01ffu);  // line = FF, pin still INTA#
  EXPECT_THROW(dev.set_interrupt_pin(5), std::invalid_argument);
}

TEST(PciConfig, BarSizingReturnsSizeMaskAndTypeBits) {
  Pci pci;
  PciConfig dev(nic_identity());
  dev.add_bar(0, PciConfig::BarKind::kIo, 256);
  dev.add_bar(1, PciConfig::BarKind::kMem32, 4096);
  dev.add_bar(2, PciConfig::BarKind::kMem32, 1 << 20, /*prefetchable=*/true);
  pci.host.attach(3, 0, dev);
  EXPECT_EQ(pci.read(3, 0, 0x10), 0x00000001u);  // I/O space indicator before sizing
  for (int bar = 0; bar < 6; ++bar) pci.write(3, 0, 0x10 + 4 * bar, 0xffffffff);
  EXPECT_EQ(pci.read(3, 0, 0x10), 0xffffff01u);  // ~(256-1) | I/O
  EXPECT_EQ(pci.read(3, 0, 0x14), 0xfffff000u);  // ~(4K-1), 32-bit, not prefetchable
  EXPECT_EQ(pci.read(3, 0, 0x18), 0xfff00008u);  // ~(1M-1) | prefetchable
  EXPECT_EQ(pci.read(3, 0, 0x1c), 0u);           // unimplemented BARs read 0
  pci.write(3, 0, 0x10, 0x0000c001);
  EXPECT_EQ(pci.read(3, 0, 0x10), 0x0000c001u);
  pci.write(3, 0, 0x10, 0x0000c0ff);  // low bits inside the range are hard-wired 0
  EXPECT_EQ(pci.read(3, 0, 0x10), 0x0000c001u);
  EXPECT_EQ(dev.bar_base(0), 0xc000u);
}

TEST(PciConfig, AddBarRejectsBadSizes) {
  PciConfig dev(nic_identity());
  EXPECT_THROW(dev.add_bar(0, PciConfig::BarKind::kIo, 3), std::invalid_argument);
  EXPECT_THROW(dev.add_bar(0, PciConfig::BarKind::kIo, 2), std::invalid_argument);
  EXPECT_THROW(dev.add_bar(0, PciConfig::BarKind::kMem32, 8), std::invalid_argument);
  EXPECT_THROW(dev.add_bar(6, PciConfig::BarKind::kIo, 256), std::invalid_argument);
}

TEST(PciConfig, ObserverSeesBarMovesAndDecodeToggles) {
  Pci pci;
  PciConfig dev(nic_identity());
  dev.add_bar(0, PciConfig::BarKind::kIo, 256);
  std::vector<std::tuple<int, uint64_t, bool>> seen;
  dev.set_bar_observer([&](int bar, uint64_t base, bool on) { seen.emplace_back(bar, base, on); });
  pci.host.attach(3, 0, dev);
  pci.write(3, 0, 0x10, 0xc000);
  pci.write(3, 0, 0x04, PciConfig::kCmdIo);
  pci.write(3, 0, 0x10, 0xffffffff);  // sizing: the range leaves the I/O space
  pci.write(3, 0, 0x10, 0xc100);
  pci.write(3, 0, 0x3c, 0x0b, 1);  // unrelated register: no report
  pci.write(3, 0, 0x04, 0);
  std::vector<std::tuple<int, uint64_t, bool>> want = {
      {0, 0xc000, false}, {0, 0xc000, true},  {0, 0xffffff00, false},
      {0, 0xc100, true},  {0, 0xc100, false},
  };
  EXPECT_EQ(seen, want);
}

TEST(PciConfig, MemoryBarDecodesOnlyWithMemoryEnable) {
  PciConfig dev(nic_identity());
  dev.add_bar(1, PciConfig::BarKind::kMem32, 4096);
  uint8_t bar[4] = {0x00, 0x00, 0x00, 0xfe};  // 0xFE000000
  dev.config_write(0x14, bar);
  uint8_t io_only[2] = {0x01, 0x00};
  dev.config_write(0x04, io_only);
  EXPECT_FALSE(dev.bar_enabled(1));
  uint8_t mem[2] = {0x02, 0x00};
  dev.config_write(0x04, mem);
  EXPECT_TRUE(dev.bar_enabled(1));
  EXPECT_EQ(dev.bar_base(1), 0xfe000000u);
}

TEST(PciConfig, IntxDisableGatesTheWireAndStatusShowsTheRequest) {
  PciConfig dev(nic_identity());
  dev.set_interrupt_pin(1);
  TestIrqLine line;
  dev.connect_intx(&line);
  dev.set_intx(true);
  EXPECT_TRUE(line.level);
  EXPECT_EQ(dev.read16(PciConfig::kStatus) & PciConfig::kStsInterrupt, PciConfig::kStsInterrupt);
  uint8_t disable[2] = {0x00, 0x04};  // Command bit 10
  dev.config_write(0x04, disable);
  EXPECT_FALSE(line.level);
  EXPECT_NE(dev.read16(PciConfig::kStatus) & PciConfig::kStsInterrupt, 0);
  uint8_t enable[2] = {0x00, 0x00};
  dev.config_write(0x04, enable);
  EXPECT_TRUE(line.level);
  dev.set_intx(false);
  EXPECT_FALSE(line.level);
  EXPECT_EQ(dev.read16(PciConfig::kStatus) & PciConfig::kStsInterrupt, 0);
}

TEST(PciConfig, SaveRestoreRoundTripReportsBars) {
  PciConfig a(nic_identity());
  a.add_bar(0, PciConfig::BarKind::kIo, 256);
  uint8_t bar[4] = {0x01, 0xc0, 0, 0};
  a.config_write(0x10, bar);
  uint8_t cmd[2] = {0x05, 0x00};
  a.config_write(0x04, cmd);
  PciConfig b(nic_identity());
  b.add_bar(0, PciConfig::BarKind::kIo, 256);
  std::vector<std::tuple<int, uint64_t, bool>> seen;
  b.set_bar_observer([&](int i, uint64_t base, bool on) { seen.emplace_back(i, base, on); });
  b.restore(a.save());
  EXPECT_EQ(b.save().bytes, a.save().bytes);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::make_tuple(0, uint64_t{0xc000}, true));
}

TEST(PiixIsa, IdentityAndPirqDefaults) {
  Pci pci;
  PiixIsa isa;
  pci.host.attach(1, 0, isa);
  EXPECT_EQ(pci.read(1, 0, 0x00), 0x70008086u);
  EXPECT_EQ(pci.read(1, 0, 0x08) >> 8, 0x060100u);
  EXPECT_EQ(pci.read(1, 0, 0x0e, 1), 0x80u);     // multi-function
  EXPECT_EQ(pci.read(1, 0, 0x60), 0x80808080u);  // every PIRQ routing disabled
  for (int p = 0; p < 4; ++p) EXPECT_FALSE(isa.pirq_route(p));
}

TEST(PiixIsa, PirqRouteRegistersKeepOnlyDefinedBits) {
  Pci pci;
  PiixIsa isa;
  pci.host.attach(1, 0, isa);
  pci.write(1, 0, 0x60, 0x0b0a0bff);
  EXPECT_EQ(pci.read(1, 0, 0x60), 0x0b0a0b8fu);  // bits 6:4 reserved
  EXPECT_FALSE(isa.pirq_route(0));               // disabled
  EXPECT_EQ(isa.pirq_route(1), 11);
  EXPECT_EQ(isa.pirq_route(2), 10);
  EXPECT_EQ(isa.pirq_route(3), 11);
}

TEST(PiixIsa, ReservedIrqIsNotConnectedAndWarns) {
  std::vector<std::string> warnings;
  PiixIsa isa([&](const std::string& m) { warnings.push_back(m); });
  uint8_t v[1] = {0x02};  // IRQ2 is reserved (the cascade)
  isa.config_write(0x61, v);
  EXPECT_FALSE(isa.pirq_route(1));
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(PciIrqRouter, SwizzleMatchesQemuPiix) {
  EXPECT_EQ(PciIrqRouter::pirq_for(3, 1), 2);  // slot 3 INTA# -> PIRQC
  EXPECT_EQ(PciIrqRouter::pirq_for(1, 1), 0);  // slot 1 INTA# -> PIRQA
  EXPECT_EQ(PciIrqRouter::pirq_for(0, 1), 3);  // slot 0 INTA# -> PIRQD
  EXPECT_EQ(PciIrqRouter::pirq_for(3, 2), 3);  // INTB# rotates by one
  EXPECT_EQ(PciIrqRouter::pirq_for(3, 4), 1);
  EXPECT_EQ(PciIrqRouter::apic_pin_for(3, 1), 18);
}

struct RouterRig {
  PiixIsa isa;
  std::array<TestIrqLine, 16> pic;
  std::array<TestIrqLine, 4> apic;
  PciIrqRouter router{isa, pic_ptrs(), apic_ptrs()};

  std::array<IrqLine*, 16> pic_ptrs() {
    std::array<IrqLine*, 16> p{};
    for (int i = 0; i < 16; ++i) p[i] = &pic[i];
    return p;
  }
  std::array<IrqLine*, 4> apic_ptrs() {
    std::array<IrqLine*, 4> p{};
    for (int i = 0; i < 4; ++i) p[i] = &apic[i];
    return p;
  }
  void route(int pirq, uint8_t v) {
    uint8_t b[1] = {v};
    isa.config_write(static_cast<uint8_t>(0x60 + pirq), b);
  }
};

TEST(PciIrqRouter, IntxReachesPicIrqAndIoapicPin) {
  RouterRig rig;
  rig.route(2, 11);  // PIRQC -> IRQ11
  rig.router.intx(3, 1).set_level(true);
  EXPECT_TRUE(rig.pic[11].level);
  EXPECT_TRUE(rig.apic[2].level);  // IOAPIC input 18
  rig.router.intx(3, 1).set_level(false);
  EXPECT_FALSE(rig.pic[11].level);
  EXPECT_FALSE(rig.apic[2].level);
}

TEST(PciIrqRouter, SharedLinesAreWiredOr) {
  RouterRig rig;
  rig.route(2, 11);
  rig.route(0, 11);                       // PIRQA also on IRQ11
  rig.router.intx(3, 1).set_level(true);  // PIRQC
  rig.router.intx(7, 1).set_level(true);  // slot 7 INTA# -> PIRQC too
  rig.router.intx(1, 1).set_level(true);  // PIRQA
  rig.router.intx(3, 1).set_level(false);
  EXPECT_TRUE(rig.apic[2].level);
  rig.router.intx(7, 1).set_level(false);
  EXPECT_FALSE(rig.apic[2].level);
  EXPECT_TRUE(rig.pic[11].level);  // PIRQA still holds IRQ11
  rig.router.intx(1, 1).set_level(false);
  EXPECT_FALSE(rig.pic[11].level);
  EXPECT_EQ(rig.pic[11].rising_edges, 1);
}

TEST(PciIrqRouter, RouteChangeMovesAnAssertedLine) {
  RouterRig rig;
  rig.route(2, 10);
  rig.router.intx(3, 1).set_level(true);
  EXPECT_TRUE(rig.pic[10].level);
  rig.route(2, 11);
  EXPECT_FALSE(rig.pic[10].level);
  EXPECT_TRUE(rig.pic[11].level);
  rig.route(2, 0x80 | 11);  // routing disabled: the PIC loses it, the IOAPIC does not
  EXPECT_FALSE(rig.pic[11].level);
  EXPECT_TRUE(rig.apic[2].level);
}

TEST(PciIrqRouter, UnroutedIrqsAreNeverTouched) {
  RouterRig rig;
  rig.router.intx(3, 1).set_level(true);  // PIRQC routing disabled
  for (const auto& l : rig.pic) EXPECT_EQ(l.rising_edges, 0);
  EXPECT_THROW(rig.router.intx(32, 1), std::out_of_range);
  EXPECT_THROW(rig.router.intx(3, 0), std::out_of_range);
}

TEST(PciIrqRouter, ConfigIntxThroughRouter) {
  RouterRig rig;
  rig.route(2, 11);
  PciConfig nic(nic_identity());
  nic.set_interrupt_pin(1);
  nic.connect_intx(&rig.router.intx(3, 1));
  nic.set_intx(true);
  EXPECT_TRUE(rig.pic[11].level);
}

TEST(PciIrqRouter, SaveRestoreRoundTrip) {
  RouterRig a;
  a.route(2, 11);
  a.router.intx(3, 1).set_level(true);
  RouterRig b;
  b.isa.restore(a.isa.save());
  b.router.restore(a.router.save());
  EXPECT_EQ(b.router.save().asserted, a.router.save().asserted);
  EXPECT_EQ(b.router.save().pic_driven, a.router.save().pic_driven);
  b.router.intx(3, 1).set_level(false);  // the restored router knows it drove IRQ11
  EXPECT_FALSE(b.pic[11].level);
  EXPECT_EQ(b.pic[11].rising_edges, 0);
}

TEST(PciHost, SaveRestoreRoundTrip) {
  Pci a;
  a.write(0, 0, 0x0c, 0x4010);
  out(a.host.address_io(), 0, 4, cfg_address(0, 0, 0x3c));
  Pci b;
  b.host.restore(a.host.save());
  EXPECT_EQ(in(b.host.address_io(), 0, 4), cfg_address(0, 0, 0x3c));
  EXPECT_EQ(b.read(0, 0, 0x0c), 0x4010u);
}

TEST(PciHost, GarbageNeverCrashesAndIdentitySurvives) {
  int warnings = 0;
  PciHost host([&](const std::string&) { ++warnings; });
  PiixIsa isa;
  PciConfig nic(nic_identity());
  nic.add_bar(0, PciConfig::BarKind::kIo, 256);
  nic.add_bar(1, PciConfig::BarKind::kMem32, 256);
  host.attach(1, 0, isa);
  host.attach(3, 0, nic);
  std::mt19937 rng(42);
  const size_t widths[] = {1, 2, 4, 8};
  for (int i = 0; i < 200000; ++i) {
    size_t w = widths[rng() % 4];
    uint64_t off = rng() % 6;  // including offsets past the 4-port windows
    uint8_t buf[8];
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    IoDevice& dev = rng() % 2 ? host.address_io() : host.data_io();
    if (rng() % 2) {
      dev.write(off, std::span<const uint8_t>(buf, w));
    } else {
      dev.read(off, std::span<uint8_t>(buf, w));
    }
  }
  uint8_t id[4];
  nic.config_read(0, id);
  EXPECT_EQ(load_le(id), 0x813910ecu);
  isa.config_read(0, id);
  EXPECT_EQ(load_le(id), 0x70008086u);
  uint8_t tail[4];
  nic.config_read(0xfe, tail);  // runs off the end of the space
  EXPECT_EQ(tail[2], 0xff);
  nic.config_write(0xfe, tail);
}

}  // namespace
}  // namespace rrvm
