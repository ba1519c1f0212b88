// Which interrupt the CPU takes: PIC mode, virtual wire mode through LINT0
// (MP spec 1.4, 3.6.2) and the local APIC's own vectors.
#include <gtest/gtest.h>

#include <deque>

#include "devices/interrupt_arbiter.h"

namespace rrvm {
namespace {

// An 8259 stand-in: INTR is high while vectors are queued.
class FakePic final : public InterruptController {
 public:
  bool has_interrupt() const override { return !pending.empty(); }
  std::optional<uint8_t> acknowledge() override {
    if (pending.empty()) return std::nullopt;
    uint8_t v = pending.front();
    pending.pop_front();
    return v;
  }
  std::deque<uint8_t> pending;
};

struct Rig {
  ManualClock clock;
  FakePic pic;
  Lapic lapic{clock};
  InterruptArbiter arbiter{pic, lapic};

  void w(uint64_t off, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    lapic.write(off, b);
  }
  void enable_lapic() { w(0xf0, 0x1ff); }
};

TEST(InterruptArbiter, PicModeWhileLapicIsSoftwareDisabled) {
  Rig r;
  r.pic.pending.push_back(0x20);
  EXPECT_TRUE(r.arbiter.pic_connected());
  ASSERT_TRUE(r.arbiter.has_interrupt());
  EXPECT_EQ(r.arbiter.pending_source(), InterruptArbiter::Source::kPic);
  EXPECT_EQ(r.arbiter.acknowledge(), 0x20);
  EXPECT_FALSE(r.arbiter.has_interrupt());
  EXPECT_EQ(r.arbiter.acknowledge(), std::nullopt);
}

TEST(InterruptArbiter, EnabledLapicBlocksPicUntilLint0IsExtInt) {
  Rig r;
  r.enable_lapic();  // LINT0 still masked (reset value)
  r.pic.pending.push_back(0x20);
  EXPECT_FALSE(r.arbiter.has_interrupt());
  r.w(0x350, 0x000);  // unmasked but Fixed: not the virtual wire
  EXPECT_FALSE(r.arbiter.has_interrupt());
  r.w(0x350, 0x700);  // ExtINT, unmasked
  ASSERT_TRUE(r.arbiter.has_interrupt());
  EXPECT_EQ(r.arbiter.acknowledge(), 0x20);
}

TEST(InterruptArbiter, LapicVectorTakesPrecedence) {
  Rig r;
  r.enable_lapic();
  r.w(0x350, 0x700);
  r.pic.pending.push_back(0x20);
  r.lapic.accept_interrupt(0x41, false);
  EXPECT_EQ(r.arbiter.pending_source(), InterruptArbiter::Source::kLapic);
  EXPECT_EQ(r.arbiter.acknowledge(), 0x41);
  EXPECT_EQ(r.arbiter.acknowledge(), 0x20);
}

TEST(InterruptArbiter, ExtIntIsNotSubjectToTpr) {
  Rig r;
  r.enable_lapic();
  r.w(0x350, 0x700);
  r.w(0x80, 0xf0);  // TPR blocks every APIC vector
  r.lapic.accept_interrupt(0x41, false);
  r.pic.pending.push_back(0x20);
  EXPECT_EQ(r.arbiter.acknowledge(), 0x20);
  EXPECT_FALSE(r.arbiter.has_interrupt());  // 0x41 stays pending in IRR
}

TEST(InterruptArbiter, HeldLapicVectorStillReachesCpuAfterDisable) {
  Rig r;
  r.enable_lapic();
  r.lapic.accept_interrupt(0x41, false);
  r.w(0xf0, 0xff);  // software-disable: PIC mode again, IRR is held
  r.pic.pending.push_back(0x20);
  EXPECT_EQ(r.arbiter.acknowledge(), 0x41);
  EXPECT_EQ(r.arbiter.acknowledge(), 0x20);
}

// The run loop sees only an InterruptController (Board::interrupts): every
// NMI source must reach it there.
TEST(InterruptArbiter, EveryNmiSourceReachesTheCpuNmiInput) {
  Rig r;
  InterruptController& cpu = r.arbiter;
  EXPECT_FALSE(cpu.nmi_pending());
  EXPECT_FALSE(cpu.take_nmi());
  r.lapic.accept_nmi();  // an IOAPIC entry in NMI mode
  EXPECT_TRUE(cpu.nmi_pending());
  EXPECT_TRUE(cpu.take_nmi());
  EXPECT_FALSE(cpu.take_nmi());
  r.enable_lapic();
  r.w(0x300, (1u << 18) | 0x400);  // NMI IPI to self
  EXPECT_TRUE(cpu.take_nmi());
  r.w(0x360, 0x400);  // LVT LINT1: NMI
  r.lapic.set_lint1(true);
  EXPECT_TRUE(cpu.take_nmi());
  EXPECT_FALSE(cpu.has_interrupt());
  FakePic pic;  // the 8259 has no NMI output
  EXPECT_FALSE(static_cast<InterruptController&>(pic).take_nmi());
}

// SDM 11.4.3: with IA32_APIC_BASE.EN clear the CPU has no APIC: INTR comes
// straight from the 8259, whatever LINT0 was programmed to.
TEST(InterruptArbiter, GloballyDisabledApicConnectsThePic) {
  Rig r;
  r.enable_lapic();
  r.w(0x350, 0x10000);  // LINT0 masked: the PIC is cut off
  r.pic.pending.push_back(0x20);
  EXPECT_FALSE(r.arbiter.pic_connected());
  ASSERT_TRUE(r.lapic.set_apic_base(Lapic::kDefaultBase | Lapic::kApicBaseBsp));
  EXPECT_TRUE(r.arbiter.pic_connected());
  EXPECT_EQ(r.arbiter.acknowledge(), 0x20);
}

}  // namespace
}  // namespace rrvm
