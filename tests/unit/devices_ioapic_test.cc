// 82093AA I/O APIC behaviour from its datasheet (order 290566-001): the
// indirect register interface, redirection entries, edge and level inputs,
// Remote IRR and the EOI message.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "devices/ioapic.h"

namespace rrvm {
namespace {

// One local APIC on the APIC bus that records the messages it gets.
class FakeApic final : public ApicMessageSink {
 public:
  bool is_destination(uint8_t destination, bool logical) const override {
    return destination == 0xff || (!logical && destination == id);
  }
  bool accept_interrupt(uint8_t vector, bool level) override {
    if (!accepting) return false;
    got.emplace_back(vector, level);
    return true;
  }
  void accept_nmi() override { ++nmis; }

  uint8_t id = 0;
  bool accepting = true;
  std::vector<std::pair<uint8_t, bool>> got;
  int nmis = 0;
};

constexpr uint32_t kLevel = 1u << 15, kMasked = 1u << 16, kRemoteIrr = 1u << 14;
constexpr uint32_t kActiveLow = 1u << 13, kLogical = 1u << 11;

struct Rig {
  FakeApic apic;
  std::vector<std::string> warnings;
  Ioapic ioapic{apic, 1, [this](const std::string& m) { warnings.push_back(m); }};

  void mmio_write(uint64_t off, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    ioapic.write(off, b);
  }
  uint32_t mmio_read(uint64_t off) {
    uint8_t b[4];
    ioapic.read(off, b);
    return static_cast<uint32_t>(load_le(b));
  }
  uint32_t reg(uint8_t index) {
    mmio_write(0x00, index);
    return mmio_read(0x10);
  }
  void set_reg(uint8_t index, uint32_t v) {
    mmio_write(0x00, index);
    mmio_write(0x10, v);
  }
  void program(int pin, uint32_t low, uint8_t dest = 0) {
    set_reg(static_cast<uint8_t>(0x11 + 2 * pin), uint32_t{dest} << 24);
    set_reg(static_cast<uint8_t>(0x10 + 2 * pin), low);
  }
  uint32_t low(int pin) { return reg(static_cast<uint8_t>(0x10 + 2 * pin)); }
};

TEST(Ioapic, IdVersionAndArbitrationRegisters) {
  Rig r;
  EXPECT_EQ(r.reg(0x00), 0x01000000u);
  EXPECT_EQ(r.reg(0x01), 0x00170011u);  // 24 entries (max index 17h), version 11h
  EXPECT_EQ(r.reg(0x02), 0x01000000u);
  r.set_reg(0x00, 0xffffffff);  // only bits 27:24 are the ID
  EXPECT_EQ(r.reg(0x00), 0x0f000000u);
  EXPECT_EQ(r.reg(0x02), 0x0f000000u);  // loaded from the ID on an ID write
  r.set_reg(0x01, 0);                   // read-only
  EXPECT_EQ(r.reg(0x01), 0x00170011u);
}

TEST(Ioapic, RegisterSelectReadsBackItsByte) {
  Rig r;
  r.mmio_write(0x00, 0xffffff12);
  EXPECT_EQ(r.mmio_read(0x00), 0x12u);
}

TEST(Ioapic, EveryEntryIsMaskedAtReset) {
  Rig r;
  for (int pin = 0; pin < Ioapic::kPins; ++pin) {
    EXPECT_EQ(r.low(pin), kMasked) << pin;
    EXPECT_EQ(r.reg(static_cast<uint8_t>(0x11 + 2 * pin)), 0u) << pin;
  }
  r.ioapic.irq(3).pulse();
  EXPECT_TRUE(r.apic.got.empty());
}

TEST(Ioapic, EntryKeepsWritableFieldsOnly) {
  Rig r;
  r.set_reg(0x10 + 2 * 5, 0xffffffff);
  EXPECT_EQ(r.low(5), 0x0001afffu);  // delivery status, remote IRR and 31:17 not writable
  r.set_reg(0x11 + 2 * 5, 0xffffffff);
  EXPECT_EQ(r.reg(0x11 + 2 * 5), 0xff000000u);  // destination only
}

TEST(Ioapic, EdgeInputDeliversOnRisingEdgeOnly) {
  Rig r;
  r.program(4, 0x34);
  r.ioapic.irq(4).set_level(true);
  r.ioapic.irq(4).set_level(true);  // still high: no new edge
  ASSERT_EQ(r.apic.got.size(), 1u);
  EXPECT_EQ(r.apic.got[0], std::make_pair(uint8_t{0x34}, false));
  r.ioapic.irq(4).set_level(false);
  r.ioapic.irq(4).set_level(true);
  EXPECT_EQ(r.apic.got.size(), 2u);
  EXPECT_EQ(r.low(4) & kRemoteIrr, 0u);  // edge inputs never set Remote IRR
}

TEST(Ioapic, EdgeOnMaskedInputIsLost) {
  Rig r;
  r.program(4, 0x34 | kMasked);
  r.ioapic.irq(4).pulse();
  r.program(4, 0x34);
  EXPECT_TRUE(r.apic.got.empty());
}

TEST(Ioapic, LevelInputRedeliveredAfterEoiWhileStillAsserted) {
  Rig r;
  r.program(18, 0x41 | kLevel);
  r.ioapic.irq(18).set_level(true);
  ASSERT_EQ(r.apic.got.size(), 1u);
  EXPECT_EQ(r.apic.got[0], std::make_pair(uint8_t{0x41}, true));
  EXPECT_NE(r.low(18) & kRemoteIrr, 0u);
  r.ioapic.irq(18).set_level(true);  // in service: nothing new
  EXPECT_EQ(r.apic.got.size(), 1u);
  r.ioapic.eoi(0x41);
  EXPECT_EQ(r.apic.got.size(), 2u);  // still asserted: delivered again
  EXPECT_NE(r.low(18) & kRemoteIrr, 0u);
}

TEST(Ioapic, LevelInputNotRedeliveredAfterItDrops) {
  Rig r;
  r.program(18, 0x41 | kLevel);
  r.ioapic.irq(18).set_level(true);
  r.ioapic.irq(18).set_level(false);
  r.ioapic.eoi(0x41);
  EXPECT_EQ(r.apic.got.size(), 1u);
  EXPECT_EQ(r.low(18) & kRemoteIrr, 0u);
}

TEST(Ioapic, EoiForAnotherVectorLeavesRemoteIrr) {
  Rig r;
  r.program(18, 0x41 | kLevel);
  r.ioapic.irq(18).set_level(true);
  r.ioapic.eoi(0x42);
  EXPECT_NE(r.low(18) & kRemoteIrr, 0u);
  EXPECT_EQ(r.apic.got.size(), 1u);
}

TEST(Ioapic, UnmaskingAnAssertedLevelInputDelivers) {
  Rig r;
  r.program(9, 0x39 | kLevel | kMasked);
  r.ioapic.irq(9).set_level(true);
  EXPECT_TRUE(r.apic.got.empty());
  r.program(9, 0x39 | kLevel);
  ASSERT_EQ(r.apic.got.size(), 1u);
  EXPECT_EQ(r.apic.got[0].first, 0x39);
}

TEST(Ioapic, RemoteIrrAndDeliveryStatusAreReadOnly) {
  Rig r;
  r.program(2, 0x30 | kLevel | kRemoteIrr | (1u << 12));
  EXPECT_EQ(r.low(2), 0x30u | kLevel);
}

TEST(Ioapic, SwitchingToEdgeClearsRemoteIrr) {
  Rig r;
  r.program(18, 0x41 | kLevel);
  r.ioapic.irq(18).set_level(true);
  r.program(18, 0x41);
  EXPECT_EQ(r.low(18) & kRemoteIrr, 0u);
}

TEST(Ioapic, PolarityIsStoredButInputsAreLogicalLevels) {
  Rig r;
  r.program(18, 0x41 | kLevel | kActiveLow);
  EXPECT_NE(r.low(18) & kActiveLow, 0u);
  EXPECT_TRUE(r.apic.got.empty());  // low input is "not asserted"
  r.ioapic.irq(18).set_level(true);
  EXPECT_EQ(r.apic.got.size(), 1u);
}

TEST(Ioapic, PhysicalDestinationMustMatch) {
  Rig r;
  r.apic.id = 0;
  r.program(4, 0x34, /*dest=*/3);
  r.ioapic.irq(4).pulse();
  EXPECT_TRUE(r.apic.got.empty());
  r.program(4, 0x34 | kLogical, /*dest=*/0xff);  // broadcast
  r.ioapic.irq(4).pulse();
  EXPECT_EQ(r.apic.got.size(), 1u);
}

TEST(Ioapic, RefusedLevelMessageDoesNotSetRemoteIrr) {
  Rig r;
  r.apic.accepting = false;  // e.g. the local APIC is software-disabled
  r.program(18, 0x41 | kLevel);
  r.ioapic.irq(18).set_level(true);
  EXPECT_EQ(r.low(18) & kRemoteIrr, 0u);
}

TEST(Ioapic, NmiDeliveryModeSendsNmi) {
  Rig r;
  r.program(7, 4u << 8);
  r.ioapic.irq(7).pulse();
  EXPECT_EQ(r.apic.nmis, 1);
  EXPECT_TRUE(r.apic.got.empty());
}

// 3.2.4: "NMI is treated as an edge triggered interrupt, even if it is
// programmed as a level triggered interrupt"; its vector is ignored.
TEST(Ioapic, NmiEntryIsEdgeTriggeredEvenWhenProgrammedLevel) {
  Rig r;
  r.program(7, kLevel | (4u << 8) | 0x03);
  r.ioapic.irq(7).set_level(true);
  EXPECT_EQ(r.apic.nmis, 1);
  EXPECT_EQ(r.low(7) & kRemoteIrr, 0u);
  r.ioapic.eoi(0x03);
  r.program(7, kLevel | (4u << 8) | 0x03);  // rewriting the entry while asserted: no new edge
  EXPECT_EQ(r.apic.nmis, 1);
  r.ioapic.irq(7).set_level(false);
  r.ioapic.irq(7).set_level(true);
  EXPECT_EQ(r.apic.nmis, 2);
  EXPECT_TRUE(r.apic.got.empty());
  r.apic.id = 5;  // not for this APIC: nothing
  r.ioapic.irq(7).pulse();
  EXPECT_EQ(r.apic.nmis, 2);
}

TEST(Ioapic, UnsupportedDeliveryModesAreDroppedWithWarning) {
  Rig r;
  r.program(0, 7u << 8);  // ExtINT
  r.ioapic.irq(0).pulse();
  EXPECT_TRUE(r.apic.got.empty());
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(Ioapic, NarrowAndUnalignedAccessesAreHardwareLike) {
  Rig r;
  r.mmio_write(0x00, 0x01);
  uint8_t b[1];
  r.ioapic.read(0x12, b);  // byte 2 of IOWIN: the version's max-entry byte
  EXPECT_EQ(b[0], 0x17);
  uint8_t w[2] = {0x00, 0x00};
  r.ioapic.write(0x00, w);  // 16-bit write: ignored
  EXPECT_EQ(r.mmio_read(0x00), 0x01u);
  uint8_t q[8];
  r.ioapic.read(0x0e, std::span<uint8_t>(q, 4));  // crosses a dword
  EXPECT_EQ(load_le(std::span<const uint8_t>(q, 4)), 0xffffffffu);
  EXPECT_EQ(r.warnings.size(), 3u);
  EXPECT_EQ(r.mmio_read(0x20), 0u);  // reserved offset
}

TEST(Ioapic, OutOfRangeIndexReadsAllOnesAndIgnoresWrites) {
  Rig r;
  EXPECT_EQ(r.reg(0x40), 0xffffffffu);
  EXPECT_EQ(r.reg(0x05), 0xffffffffu);
  r.set_reg(0x40, 0x12345678);
  r.set_reg(0xff, 0x12345678);
  EXPECT_EQ(r.reg(0x3f), 0u);  // the last entry's high dword is untouched
  EXPECT_FALSE(r.warnings.empty());
  EXPECT_THROW(r.ioapic.irq(24), std::out_of_range);
}

TEST(Ioapic, SaveRestoreRoundTrip) {
  Rig a;
  a.program(18, 0x41 | kLevel, 0);
  a.ioapic.irq(18).set_level(true);
  a.mmio_write(0x00, 0x24);
  Rig b;
  b.ioapic.restore(a.ioapic.save());
  EXPECT_EQ(b.mmio_read(0x00), 0x24u);
  EXPECT_EQ(b.low(18), a.low(18));
  b.ioapic.eoi(0x41);  // restored Remote IRR and input level: redelivers
  EXPECT_EQ(b.apic.got.size(), 1u);
}

TEST(Ioapic, GarbageNeverCrashes) {
  Rig r;
  r.warnings.reserve(1 << 20);
  std::mt19937 rng(7);
  const size_t widths[] = {1, 2, 4, 8};
  for (int i = 0; i < 200000; ++i) {
    uint8_t buf[8];
    for (auto& x : buf) x = static_cast<uint8_t>(rng());
    size_t w = widths[rng() % 4];
    uint64_t off = rng() % 2 ? rng() % 0x20 : rng() % Ioapic::kMmioSize;
    if (rng() % 2) {
      r.ioapic.write(off, std::span<const uint8_t>(buf, w));
    } else {
      r.ioapic.read(off, std::span<uint8_t>(buf, w));
    }
    if (rng() % 8 == 0) r.ioapic.irq(static_cast<int>(rng() % Ioapic::kPins)).set_level(rng() % 2);
    if (rng() % 16 == 0) r.ioapic.eoi(static_cast<uint8_t>(rng()));
  }
  EXPECT_EQ(r.reg(0x01), 0x00170011u);
}

}  // namespace
}  // namespace rrvm
