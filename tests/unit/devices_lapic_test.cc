// Local APIC behaviour from the Intel SDM vol. 3A, chapter 11 "Advanced
// Programmable Interrupt Controller (APIC)".
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "devices/lapic.h"
#include "tests/unit/lapic_test_rig.h"

namespace rrvm {
namespace {

constexpr uint32_t kMasked = 1u << 16, kPeriodic = 1u << 17;

using Rig = test::LapicRig;

TEST(Lapic, ResetState) {
  Rig r;
  EXPECT_EQ(r.r(0x20), 0u);
  EXPECT_EQ(r.r(0x30), 0x00050014u);
  EXPECT_EQ(r.r(0xf0), 0xffu);  // software-disabled, spurious vector FFh (11.4.7.1)
  EXPECT_EQ(r.r(0xe0), 0xffffffffu);
  for (uint64_t lvt = 0x320; lvt <= 0x370; lvt += 0x10) EXPECT_EQ(r.r(lvt), kMasked) << lvt;
  EXPECT_EQ(r.r(0x380), 0u);
  EXPECT_EQ(r.r(0x390), 0u);
  EXPECT_FALSE(r.apic.software_enabled());
}

TEST(Lapic, SoftwareDisabledRefusesFixedInterruptsAndKeepsLvtsMasked) {
  Rig r;
  EXPECT_FALSE(r.apic.accept_interrupt(0x40, false));
  EXPECT_FALSE(r.apic.has_interrupt());
  r.w(0x350, 0x700);  // 11.4.7.2: the mask cannot be cleared while disabled
  EXPECT_EQ(r.r(0x350), 0x700u | kMasked);
  r.enable();
  EXPECT_EQ(r.r(0x350), 0x700u | kMasked);  // enabling leaves the LVTs masked
  r.w(0x350, 0x700);
  EXPECT_EQ(r.r(0x350), 0x700u);
  r.w(0xf0, 0xff);  // disabling masks every LVT again
  EXPECT_EQ(r.r(0x350), 0x700u | kMasked);
}

TEST(Lapic, AcknowledgeMovesHighestIrrVectorToIsr) {
  Rig r;
  r.enable();
  EXPECT_TRUE(r.apic.accept_interrupt(0x40, false));
  EXPECT_TRUE(r.apic.accept_interrupt(0x91, false));
  EXPECT_TRUE(r.bit(0x200, 0x40));
  EXPECT_TRUE(r.bit(0x200, 0x91));
  ASSERT_TRUE(r.apic.has_interrupt());
  EXPECT_EQ(r.apic.acknowledge(), 0x91);
  EXPECT_FALSE(r.bit(0x200, 0x91));
  EXPECT_TRUE(r.bit(0x100, 0x91));
  EXPECT_EQ(r.r(0xa0), 0x90u);           // PPR = ISRV class while TPR is lower
  EXPECT_FALSE(r.apic.has_interrupt());  // 0x40 is below the in-service class
  r.w(0xb0, 0);
  EXPECT_FALSE(r.bit(0x100, 0x91));
  EXPECT_EQ(r.apic.acknowledge(), 0x40);
}

TEST(Lapic, TprBlocksVectorsAtOrBelowItsClass) {
  Rig r;
  r.enable();
  r.w(0x80, 0x50);
  r.apic.accept_interrupt(0x45, false);
  r.apic.accept_interrupt(0x5f, false);  // same class as TPR: blocked too
  EXPECT_EQ(r.r(0xa0), 0x50u);
  EXPECT_FALSE(r.apic.has_interrupt());
  EXPECT_EQ(r.apic.acknowledge(), 0xff);  // spurious vector, nothing moves to ISR
  EXPECT_EQ(r.r(0x100 + 0x10 * (0x5f / 32)), 0u);
  r.apic.accept_interrupt(0x61, false);
  ASSERT_TRUE(r.apic.has_interrupt());
  EXPECT_EQ(r.apic.acknowledge(), 0x61);
  r.w(0x80, 0x00);
  r.w(0xb0, 0);
  EXPECT_EQ(r.apic.acknowledge(), 0x5f);
}

TEST(Lapic, TprMirrorsCr8) {
  Rig r;
  r.enable();
  r.apic.set_tpr(0x20);
  EXPECT_EQ(r.r(0x80), 0x20u);
  r.w(0x80, 0x30);
  EXPECT_EQ(r.apic.tpr(), 0x30);
}

TEST(Lapic, NoInterruptMeansNoAcknowledge) {
  Rig r;
  r.enable();
  EXPECT_EQ(r.apic.acknowledge(), std::nullopt);
}

TEST(Lapic, EoiOfLevelTriggeredVectorBroadcastsToIoapic) {
  Rig r;
  std::vector<uint8_t> eois;
  r.apic.set_eoi_broadcast([&](uint8_t v) { eois.push_back(v); });
  r.enable();
  r.apic.accept_interrupt(0x41, true);
  EXPECT_TRUE(r.bit(0x180, 0x41));  // TMR records level
  r.apic.acknowledge();
  r.w(0xb0, 0);
  r.apic.accept_interrupt(0x42, false);
  r.apic.acknowledge();
  r.w(0xb0, 0);
  EXPECT_EQ(eois, std::vector<uint8_t>{0x41});
  r.w(0xb0, 0);  // EOI with nothing in service: no effect
  EXPECT_EQ(eois.size(), 1u);
}

TEST(Lapic, IllegalVectorIsRefusedAndLoggedInEsr) {
  Rig r;
  r.enable();
  EXPECT_FALSE(r.apic.accept_interrupt(5, false));
  EXPECT_EQ(r.r(0x280), 0u);  // errors become readable after an ESR write
  r.w(0x280, 0);
  EXPECT_EQ(r.r(0x280), 1u << 6);  // Received Illegal Vector
  r.w(0x280, 0);
  EXPECT_EQ(r.r(0x280), 0u);
}

TEST(Lapic, ErrorLvtDeliversItsVector) {
  Rig r;
  r.enable();
  r.w(0x370, 0xfe);
  r.apic.accept_interrupt(3, false);
  EXPECT_EQ(r.apic.acknowledge(), 0xfe);
}

TEST(Lapic, UnimplementedRegisterSetsIllegalRegisterAddress) {
  Rig r;
  r.enable();
  EXPECT_EQ(r.r(0x400), 0u);
  r.w(0x280, 0);
  EXPECT_EQ(r.r(0x280), 1u << 7);
  EXPECT_FALSE(r.warnings.empty());
}

TEST(Lapic, PeriodicTimerAtDivide16) {
  Rig r;
  r.enable();
  r.w(0x3e0, 0x3);  // divide by 16
  r.w(0x320, 0x40 | kPeriodic);
  r.w(0x380, 1000);  // period = 1000 * 16 bus clocks = 16 us at 1 GHz
  uint64_t period = 1000ull * 16 * 1'000'000'000 / Lapic::kBusHz;
  EXPECT_EQ(r.apic.next_deadline_ns(), period);
  r.clock.set(period / 2);
  EXPECT_EQ(r.r(0x390), 500u);
  for (uint64_t k = 1; k <= 3; ++k) {
    r.run_to(k * period - 1);
    EXPECT_FALSE(r.apic.has_interrupt()) << k;
    r.run_to(k * period);
    ASSERT_TRUE(r.apic.has_interrupt()) << k;
    EXPECT_EQ(r.apic.acknowledge(), 0x40);
    r.w(0xb0, 0);
    EXPECT_EQ(r.apic.next_deadline_ns(), (k + 1) * period);
    EXPECT_EQ(r.r(0x390), 1000u);  // reloaded
  }
}

TEST(Lapic, OneShotTimerFiresOnceAndStopsAtZero) {
  Rig r;
  r.enable();
  r.w(0x3e0, 0xb);  // divide by 1
  r.w(0x320, 0x50);
  r.w(0x380, 300);
  r.run_to(300);
  EXPECT_EQ(r.apic.acknowledge(), 0x50);
  r.w(0xb0, 0);
  EXPECT_EQ(r.r(0x390), 0u);
  EXPECT_EQ(r.apic.next_deadline_ns(), std::nullopt);
  r.run_to(10'000);
  EXPECT_FALSE(r.apic.has_interrupt());
}

TEST(Lapic, DivideConfigurationEncodings) {
  const std::pair<uint32_t, uint64_t> cases[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
                                                 {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
  for (auto [dcr, div] : cases) {
    Rig r;
    r.enable();
    r.w(0x3e0, dcr);
    r.w(0x320, 0x40);
    r.w(0x380, 10);
    EXPECT_EQ(r.apic.next_deadline_ns(), 10 * div) << dcr;
  }
}

TEST(Lapic, MaskedTimerCountsButRaisesNothing) {
  Rig r;
  r.enable();
  r.w(0x3e0, 0xb);
  r.w(0x320, 0x40 | kPeriodic | kMasked);
  r.w(0x380, 100);
  EXPECT_EQ(r.apic.next_deadline_ns(), std::nullopt);
  r.run_to(250);
  EXPECT_FALSE(r.apic.has_interrupt());
  EXPECT_EQ(r.r(0x390), 50u);
  r.w(0x320, 0x40 | kPeriodic);  // unmasking does not replay missed periods
  EXPECT_FALSE(r.apic.has_interrupt());
  EXPECT_EQ(r.apic.next_deadline_ns(), 300u);
}

TEST(Lapic, InitialCountZeroStopsTheTimer) {
  Rig r;
  r.enable();
  r.w(0x320, 0x40 | kPeriodic);
  r.w(0x380, 100);
  r.w(0x380, 0);
  EXPECT_EQ(r.apic.next_deadline_ns(), std::nullopt);
  EXPECT_EQ(r.r(0x390), 0u);
}

TEST(Lapic, DivideChangeKeepsCurrentCount) {
  Rig r;
  r.enable();
  r.w(0x3e0, 0xb);
  r.w(0x320, 0x40);
  r.w(0x380, 1000);
  r.clock.set(400);
  r.w(0x3e0, 0x0);  // now divide by 2: 600 counts left take 1200 ns
  EXPECT_EQ(r.r(0x390), 600u);
  EXPECT_EQ(r.apic.next_deadline_ns(), 1600u);
}

// kvm-unit-tests apic.c test_apic_change_mode: a mode change keeps the
// current count; periodic then reloads from the initial count; one-shot
// stops at zero; periodic with a spent count stays at zero.
TEST(Lapic, TimerModeChangeKeepsTheCurrentCount) {
  Rig r;
  r.w(0x3e0, 0xb);  // divide by 1: one count per ns
  r.w(0x380, 1000);
  r.w(0x320, kPeriodic | kMasked);
  EXPECT_EQ(r.r(0x380), 1000u);
  r.w(0x320, kMasked);  // one-shot
  r.w(0x380, 1000);
  r.run_to(600);
  EXPECT_EQ(r.r(0x390), 400u);
  r.w(0x320, kPeriodic | kMasked);
  EXPECT_EQ(r.r(0x390), 400u) << "not reset to the initial count";
  r.run_to(1000);
  EXPECT_EQ(r.r(0x390), 1000u) << "periodic: reloaded at zero";
  r.run_to(1700);
  EXPECT_EQ(r.r(0x390), 300u);
  r.w(0x320, kMasked);  // back to one-shot
  EXPECT_EQ(r.r(0x390), 300u);
  r.run_to(2100);
  EXPECT_EQ(r.r(0x390), 0u);
  r.w(0x320, kPeriodic | kMasked);
  EXPECT_EQ(r.r(0x390), 0u) << "a spent one-shot stays at zero";
}

TEST(Lapic, SelfIpiAndIgnoredIpis) {
  Rig r;
  r.enable();
  r.w(0x300, (1u << 18) | 0x55);  // shorthand self, fixed
  EXPECT_EQ(r.apic.acknowledge(), 0x55);
  r.w(0x310, 0x00000000);
  r.w(0x300, 0x66);  // physical destination 0 = this APIC
  EXPECT_EQ(r.apic.acknowledge(), 0x66);
  size_t before = r.warnings.size();
  r.w(0x310, 0x03000000);
  r.w(0x300, 0x77);        // another CPU: nobody there
  r.w(0x300, 0x000c4500);  // INIT to all excluding self
  EXPECT_FALSE(r.apic.has_interrupt());
  EXPECT_EQ(r.warnings.size(), before + 2);
  r.w(0x300, (1u << 18) | 0x05);  // illegal vector: Send Illegal Vector
  r.w(0x280, 0);
  EXPECT_EQ(r.r(0x280), 1u << 5);
  EXPECT_EQ(r.r(0x300) & (1u << 12), 0u);  // delivery status idle
}

TEST(Lapic, DestinationMatching) {
  Rig r;
  r.w(0x20, 0x02000000);
  EXPECT_TRUE(r.apic.is_destination(2, false));
  EXPECT_FALSE(r.apic.is_destination(1, false));
  EXPECT_TRUE(r.apic.is_destination(0xff, false));
  r.w(0xd0, 0x01000000);  // flat model, logical ID bit 0
  EXPECT_TRUE(r.apic.is_destination(0x03, true));
  EXPECT_FALSE(r.apic.is_destination(0x02, true));
  r.w(0xe0, 0x0fffffff);  // cluster model
  EXPECT_EQ(r.r(0xe0), 0x0fffffffu);
  r.w(0xd0, 0x21000000);  // cluster 2, member bit 0
  EXPECT_TRUE(r.apic.is_destination(0x21, true));
  EXPECT_FALSE(r.apic.is_destination(0x11, true));
}

TEST(Lapic, Lint0ExtIntOnlyWhenEnabledAndUnmasked) {
  Rig r;
  EXPECT_FALSE(r.apic.lint0_extint());
  r.enable();
  r.w(0x350, 0x700);
  EXPECT_TRUE(r.apic.lint0_extint());
  r.w(0x350, 0x700 | kMasked);
  EXPECT_FALSE(r.apic.lint0_extint());
  r.w(0x350, 0x000);  // fixed mode
  EXPECT_FALSE(r.apic.lint0_extint());
}

TEST(Lapic, NarrowAndUnalignedAccessesAreHardwareLike) {
  Rig r;
  uint8_t b[1];
  r.apic.read(0x32, b);  // byte 2 of the version register: max LVT entry
  EXPECT_EQ(b[0], 0x05);
  uint8_t w[2] = {0xff, 0x01};
  r.apic.write(0xf0, w);  // 16-bit write to SVR: ignored
  EXPECT_EQ(r.r(0xf0), 0xffu);
  r.w(0xf4, 0x1ff);  // not 16-byte aligned: ignored
  EXPECT_FALSE(r.apic.software_enabled());
  EXPECT_GE(r.warnings.size(), 3u);
}

TEST(Lapic, NmiMessagesAreHeldForTheVmm) {
  Rig r;
  EXPECT_FALSE(r.apic.take_nmi());
  r.apic.accept_nmi();
  EXPECT_TRUE(r.apic.take_nmi());
  EXPECT_FALSE(r.apic.take_nmi());
}

// LINT1 (11.5.1): an edge delivers per its LVT; a disabled APIC (EN=0)
// passes the pin through as the CPU's NMI input (11.4.3).
TEST(Lapic, Lint1DeliversPerItsLvtOnRisingEdges) {
  Rig r;
  r.enable();
  r.apic.set_lint1(true);  // masked at reset: nothing
  r.apic.set_lint1(false);
  EXPECT_FALSE(r.apic.nmi_pending());
  r.w(0x360, 0x400 | 0x33);  // NMI mode: the vector is ignored
  r.apic.set_lint1(true);
  EXPECT_TRUE(r.apic.take_nmi());
  r.apic.set_lint1(true);  // still high: no new edge
  EXPECT_FALSE(r.apic.take_nmi());
  r.apic.set_lint1(false);
  r.apic.set_lint1(true);
  EXPECT_TRUE(r.apic.take_nmi());
  EXPECT_FALSE(r.apic.has_interrupt());
  r.apic.set_lint1(false);
  r.w(0x360, 0x8000 | 0x52);  // fixed; level trigger is not supported on LINT1: edge
  r.apic.set_lint1(true);
  EXPECT_TRUE(r.bit(0x200, 0x52));
  EXPECT_FALSE(r.bit(0x180, 0x52));
  EXPECT_FALSE(r.apic.nmi_pending());
  r.apic.set_lint1(false);
  r.w(0x360, 0x200);  // SMI: not modelled
  r.apic.set_lint1(true);
  EXPECT_FALSE(r.apic.nmi_pending());
  EXPECT_FALSE(r.warnings.empty());
  r.apic.set_lint1(false);
  r.w(0x360, 0x05);  // fixed, illegal vector: Receive Illegal Vector
  r.apic.set_lint1(true);
  r.w(0x280, 0);
  EXPECT_EQ(r.r(0x280), 1u << 6);
}

TEST(Lapic, Lint1IsTheNmiPinOfADisabledApic) {
  Rig r;
  ASSERT_TRUE(r.apic.set_apic_base(Lapic::kDefaultBase | Lapic::kApicBaseBsp));
  r.apic.set_lint1(true);
  EXPECT_TRUE(r.apic.take_nmi());
  r.apic.set_lint1(false);
  EXPECT_FALSE(r.apic.take_nmi());
}

TEST(Lapic, SaveRestoreRoundTripKeepsTheTimerRunning) {
  Rig a;
  a.enable();
  a.w(0x3e0, 0xb);
  a.w(0x320, 0x40 | kPeriodic);
  a.w(0x380, 100);
  a.apic.accept_interrupt(0x61, true);
  a.run_to(150);
  Rig b;
  b.clock.set(150);
  b.apic.restore(a.apic.save());
  EXPECT_EQ(b.r(0x390), a.r(0x390));
  EXPECT_EQ(b.apic.next_deadline_ns(), 200u);
  EXPECT_EQ(b.apic.acknowledge(), 0x61);
  EXPECT_TRUE(b.bit(0x180, 0x61));
}

TEST(Lapic, GarbageNeverCrashes) {
  Rig r;
  std::mt19937 rng(3);
  const size_t widths[] = {1, 2, 4, 8};
  for (int i = 0; i < 200000; ++i) {
    uint8_t buf[8];
    for (auto& x : buf) x = static_cast<uint8_t>(rng());
    size_t w = widths[rng() % 4];
    uint64_t off = rng() % 2 ? (rng() % 0x40) * 0x10 : rng() % (Lapic::kMmioSize + 16);
    if (rng() % 2) {
      r.apic.write(off, std::span<const uint8_t>(buf, w));
    } else {
      r.apic.read(off, std::span<uint8_t>(buf, w));
    }
    if (rng() % 4 == 0) r.run_to(r.clock.now_ns() + rng() % 100000);
    if (rng() % 8 == 0) r.apic.acknowledge();
    if (i % 1000 == 0) r.warnings.clear();
  }
  EXPECT_EQ(r.r(0x30), 0x00050014u);
}

}  // namespace
}  // namespace rrvm
