// QEMU's pc-testdev (hw/misc/pc-testdev.c) as kvm-unit-tests uses it: the
// scratch port at 0xE0/0xE8, the flush-page port, the IRQ line ports at
// 0x2000 and the 64 KiB iomem window.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "devices/pc_testdev.h"

namespace rrvm {
namespace {

struct Rig {
  Rig() : dev(wiring(), [this](const std::string& m) { warnings.push_back(m); }) {}
  std::array<IrqLine*, PcTestdev::kIrqLines> wiring() {
    std::array<IrqLine*, PcTestdev::kIrqLines> l{};
    for (int n = 0; n < 16; ++n) l[n] = &lines[n];
    return l;
  }

  std::array<TestIrqLine, 16> lines;
  std::vector<std::string> warnings;
  PcTestdev dev;

  void out(IoDevice& d, uint64_t off, uint32_t v, size_t size) {
    uint8_t b[4];
    store_le(b, v);
    d.write(off, std::span<const uint8_t>(b, size));
  }
  uint32_t in(IoDevice& d, uint64_t off, size_t size) {
    uint8_t b[4] = {};
    d.read(off, std::span<uint8_t>(b, size));
    return static_cast<uint32_t>(load_le(std::span<const uint8_t>(b, size)));
  }
};

// emulator.c: outl/outw/outb then the matching in, all at 0xE0.
TEST(PcTestdev, ScratchPortReadsBackEveryWidth) {
  Rig r;
  IoDevice& p = r.dev.ports();
  r.out(p, 0, 0x12345678, 4);
  EXPECT_EQ(r.in(p, 0, 4), 0x12345678u);
  EXPECT_EQ(r.in(p, 0, 1), 0x78u);
  EXPECT_EQ(r.in(p, 3, 1), 0x12u);
  EXPECT_EQ(r.in(p, 2, 2), 0x1234u);
  r.out(p, 1, 0xabcd, 2);  // replaces bytes 1-2 only
  EXPECT_EQ(r.in(p, 0, 4), 0x12abcd78u);
  r.out(p, 0, 0x9999, 2);
  EXPECT_EQ(r.in(p, 0, 4), 0x12ab9999u);
  EXPECT_EQ(r.in(p, 8, 4), 0x12ab9999u) << "0xE8 is the same register, byte by byte";
  r.out(p, 11, 0x55, 1);
  EXPECT_EQ(r.in(p, 0, 4), 0x55ab9999u);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(PcTestdev, AccessCrossingARegisterIsRefused) {
  Rig r;
  IoDevice& p = r.dev.ports();
  r.out(p, 0, 0x11223344, 4);
  r.out(p, 2, 0xffffffff, 4);  // would spill into the flush-page port
  EXPECT_EQ(r.in(p, 0, 4), 0x11223344u);
  EXPECT_EQ(r.in(p, 3, 2), 0xffffu);
  EXPECT_EQ(r.warnings.size(), 2u);
}

TEST(PcTestdev, FlushPageIsANoOpThatTakesFourBytes) {
  Rig r;
  IoDevice& p = r.dev.ports();
  r.out(p, 0, 0xcafe, 4);
  r.out(p, 4, 0x00123000, 4);  // eventinj.c: outl(page, 0xe4)
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.in(p, 0, 4), 0xcafeu);
  r.out(p, 4, 0x12, 1);
  EXPECT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.in(p, 4, 4), 0xffffffffu);
  EXPECT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(p.register_name(4), "flush-page");
  EXPECT_EQ(p.register_name(9), "ioport-byte");
}

// ioapic.c set_irq_line(line, val): outb(val, 0x2000 + line).
TEST(PcTestdev, IrqPortsSetTheLineLevel) {
  Rig r;
  IoDevice& irq = r.dev.irq_lines();
  r.out(irq, 14, 1, 1);
  EXPECT_TRUE(r.lines[14].level);
  r.out(irq, 14, 0x80, 1);  // any nonzero value is high
  EXPECT_TRUE(r.lines[14].level);
  EXPECT_EQ(r.lines[14].rising_edges, 1);
  r.out(irq, 14, 0, 1);
  EXPECT_FALSE(r.lines[14].level);
  r.out(irq, 0, 1, 1);
  EXPECT_TRUE(r.lines[0].level);
  EXPECT_EQ(r.dev.save().line_levels, 1u);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(PcTestdev, UnwiredLinesWarnAndReadsGiveAllOnes) {
  Rig r;
  IoDevice& irq = r.dev.irq_lines();
  r.out(irq, 20, 1, 1);  // QEMU aborts on lines 16-23
  EXPECT_EQ(r.in(irq, 3, 1), 0xffu);
  EXPECT_EQ(r.warnings.size(), 2u);
}

// kvm-unit-tests realmode, sti inhibit: `outl 1, 0x200b` then `outl 0`.
// QEMU splits a wide write into byte writes at consecutive ports.
TEST(PcTestdev, WideWritesSetConsecutiveLinesByteByByte) {
  Rig r;
  IoDevice& irq = r.dev.irq_lines();
  r.lines[12].level = true;
  r.out(irq, 11, 1, 4);
  EXPECT_TRUE(r.lines[11].level);
  EXPECT_FALSE(r.lines[12].level) << "byte 1 of the write: 0";
  EXPECT_EQ(r.lines[11].rising_edges, 1);
  r.out(irq, 11, 0x0100, 2);
  EXPECT_FALSE(r.lines[11].level);
  EXPECT_TRUE(r.lines[12].level);
  r.out(irq, 22, 0x0101, 4);  // lines 22-25: the last two do not exist
  EXPECT_EQ(r.warnings.size(), 4u) << "lines 22 and 23 unwired, 24 and 25 past the end";
}

TEST(PcTestdev, IomemIsScratchMemory) {
  Rig r;
  IoDevice& m = r.dev.iomem();
  uint8_t q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  m.write(0x100, q);
  uint8_t back[8] = {};
  m.read(0x100, back);
  EXPECT_EQ(std::vector<uint8_t>(back, back + 8), std::vector<uint8_t>(q, q + 8));
  EXPECT_EQ(r.in(m, 0x102, 2), 0x0403u);
  EXPECT_EQ(r.in(m, PcTestdev::kIomemSize - 4, 4), 0u);
  m.write(PcTestdev::kIomemSize - 2, q);  // past the end
  m.read(PcTestdev::kIomemSize, back);
  EXPECT_EQ(back[0], 0xff);
  EXPECT_EQ(r.warnings.size(), 2u);
}

TEST(PcTestdev, SaveRestoreRoundTrip) {
  Rig a;
  a.out(a.dev.ports(), 0, 0xfeedf00d, 4);
  a.out(a.dev.irq_lines(), 5, 1, 1);
  a.out(a.dev.iomem(), 0xfffc, 0x01020304, 4);
  Rig b;
  b.dev.restore(a.dev.save());
  EXPECT_EQ(b.in(b.dev.ports(), 0, 4), 0xfeedf00du);
  EXPECT_EQ(b.in(b.dev.iomem(), 0xfffc, 4), 0x01020304u);
  EXPECT_EQ(b.dev.save().line_levels, 1u << 5);
  PcTestdev::State small;
  small.iomem.resize(3);
  b.dev.restore(small);  // a damaged state cannot shrink the window
  EXPECT_EQ(b.in(b.dev.iomem(), 0xfffc, 4), 0u);
}

TEST(PcTestdev, GarbageNeverCrashes) {
  Rig r;
  std::mt19937_64 rng(11);
  IoDevice* facets[] = {&r.dev.ports(), &r.dev.irq_lines(), &r.dev.iomem()};
  const uint64_t sizes[] = {PcTestdev::kPortsSize, PcTestdev::kIrqLines, PcTestdev::kIomemSize};
  const size_t widths[] = {1, 2, 4, 8};
  for (int i = 0; i < 50000; ++i) {
    int f = static_cast<int>(rng() % 3);
    size_t w = widths[rng() % 4];
    uint64_t off = rng() % sizes[f];
    uint8_t buf[8];
    for (auto& x : buf) x = static_cast<uint8_t>(rng());
    if (rng() % 2) {
      facets[f]->write(off, std::span<const uint8_t>(buf, w));
    } else {
      facets[f]->read(off, std::span<uint8_t>(buf, w));
    }
    if (i % 1000 == 0) r.warnings.clear();
  }
  r.out(r.dev.ports(), 0, 7, 4);
  EXPECT_EQ(r.in(r.dev.ports(), 0, 4), 7u);
}

}  // namespace
}  // namespace rrvm
