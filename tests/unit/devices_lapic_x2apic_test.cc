// The local APIC's MSR side, from the Intel SDM vol. 3A: IA32_APIC_BASE
// (11.4.4, Figure 11-5), global disable (11.4.3, 11.4.7.1), the x2APIC
// state machine (11.12.5, Figure 11-27) and register interface (11.12.1.2,
// Table 11-6; 11.12.9 ICR; 11.12.10.2 LDR; 11.12.11 SELF IPI).
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "devices/lapic.h"
#include "tests/unit/lapic_test_rig.h"

namespace rrvm {
namespace {

constexpr uint32_t kMasked = 1u << 16;
constexpr uint64_t kBsp = Lapic::kApicBaseBsp, kExtd = Lapic::kApicBaseExtd;
constexpr uint64_t kEn = Lapic::kApicBaseEnable;
constexpr uint64_t kDefault = Lapic::kDefaultBase;

using Rig = test::LapicRig;

TEST(LapicApicBase, ResetValueIsEnabledBspAtFee00000) {
  Rig r;
  EXPECT_EQ(r.apic.apic_base(), 0xfee00900u);
  EXPECT_EQ(r.msr(Lapic::kMsrApicBase), 0xfee00900u);
  EXPECT_EQ(r.apic.mode(), Lapic::Mode::kXapic);
  EXPECT_EQ(r.apic.mmio_base(), 0xfee00000u);
  EXPECT_TRUE(Lapic::owns_msr(0x1b));
  EXPECT_TRUE(Lapic::owns_msr(0x800) && Lapic::owns_msr(0x8ff));
  EXPECT_FALSE(Lapic::owns_msr(0x7ff) || Lapic::owns_msr(0x900) || Lapic::owns_msr(0x10));
}

TEST(LapicApicBase, ReservedBitsRaiseGpAndChangeNothing) {
  Rig r;
  r.apic.set_cpu_features({40, true});
  uint64_t base = r.apic.apic_base();
  for (uint64_t bad :
       {uint64_t{1}, uint64_t{0x80}, uint64_t{1} << 9, uint64_t{1} << 40, uint64_t{1} << 63}) {
    r.warnings.clear();
    EXPECT_FALSE(r.apic.set_apic_base(base | bad)) << std::hex << bad;
    EXPECT_FALSE(r.apic.write_msr(Lapic::kMsrApicBase, base | bad));
    EXPECT_EQ(r.apic.apic_base(), base);
    EXPECT_FALSE(r.warnings.empty());
  }
  // Bit 39 is an address bit below MAXPHYADDR = 40: a legal (if odd) base.
  EXPECT_TRUE(r.apic.set_apic_base((uint64_t{1} << 39) | kBsp | kEn));
  EXPECT_EQ(r.apic.mmio_base(), uint64_t{1} << 39);
}

TEST(LapicApicBase, ExtdIsReservedWithoutX2apic) {
  Rig r;
  r.apic.set_cpu_features({36, false});
  EXPECT_FALSE(r.apic.set_apic_base(kDefault | kBsp | kEn | kExtd));
  EXPECT_EQ(r.apic.mode(), Lapic::Mode::kXapic);
}

// The sequence of kvm-unit-tests' apic.c test_enable_x2apic, Figure 11-27.
TEST(LapicApicBase, ModeTransitionsFollowFigure11_27) {
  Rig r;
  uint64_t b = kDefault | kBsp;
  EXPECT_FALSE(r.apic.set_apic_base(b | kExtd)) << "xAPIC to invalid";
  EXPECT_TRUE(r.apic.set_apic_base(b | kEn | kExtd)) << "xAPIC to x2APIC";
  EXPECT_FALSE(r.apic.set_apic_base(b | kExtd)) << "x2APIC to invalid";
  EXPECT_FALSE(r.apic.set_apic_base(b | kEn)) << "x2APIC to xAPIC";
  EXPECT_EQ(r.apic.mode(), Lapic::Mode::kX2apic);
  EXPECT_TRUE(r.apic.set_apic_base(b | kEn | kExtd)) << "x2APIC to x2APIC";
  EXPECT_TRUE(r.apic.set_apic_base(b)) << "x2APIC to disabled";
  EXPECT_FALSE(r.apic.set_apic_base(b | kExtd)) << "disabled to invalid";
  EXPECT_FALSE(r.apic.set_apic_base(b | kEn | kExtd)) << "disabled to x2APIC";
  EXPECT_TRUE(r.apic.set_apic_base(b)) << "disabled to disabled";
  EXPECT_TRUE(r.apic.set_apic_base(b | kEn)) << "disabled to xAPIC";
  EXPECT_EQ(r.apic.mode(), Lapic::Mode::kXapic);
  EXPECT_TRUE(r.apic.set_apic_base(b)) << "xAPIC to disabled";
  EXPECT_EQ(r.apic.mode(), Lapic::Mode::kDisabled);
}

TEST(LapicApicBase, GlobalDisableResetsToPowerUpStateKeepingIdAndLatchedNmi) {
  Rig r(3);
  r.w(0xf0, 0x1ff);
  r.w(0x20, 0x07000000);  // a new xAPIC ID
  r.w(0x80, 0x20);
  r.w(0xd0, 0x01000000);
  r.w(0x350, 0x700);
  r.w(0x320, 0x40);
  r.w(0x380, 1000);
  ASSERT_TRUE(r.apic.accept_interrupt(0x61, true));
  r.apic.accept_nmi();
  ASSERT_TRUE(r.apic.set_apic_base(kDefault | kBsp));
  Lapic::State s = r.apic.save();
  EXPECT_EQ(s.id, 3);  // back to the initial ID
  EXPECT_EQ(s.tpr, 0);
  EXPECT_EQ(s.ldr, 0u);
  EXPECT_EQ(s.svr, 0xffu);
  for (uint32_t lvt : s.lvt) EXPECT_EQ(lvt, kMasked);
  EXPECT_EQ(s.irr, decltype(s.irr){});
  EXPECT_EQ(s.tmr, decltype(s.tmr){});
  EXPECT_EQ(s.initial_count, 0u);
  EXPECT_FALSE(r.apic.next_deadline_ns());
  EXPECT_FALSE(r.apic.has_interrupt());
  EXPECT_TRUE(r.apic.nmi_pending()) << "an NMI already latched stays for the CPU";
  EXPECT_EQ(r.apic.apic_base(), kDefault | kBsp);
  // Disabled: no page, no messages, no fixed interrupts.
  EXPECT_FALSE(r.apic.mmio_base());
  EXPECT_FALSE(r.apic.is_destination(3, false));
  EXPECT_FALSE(r.apic.is_destination(0xff, false));
  EXPECT_FALSE(r.apic.accept_interrupt(0x40, false));
  r.warnings.clear();
  EXPECT_EQ(r.r(0x30), 0xffffffffu);
  EXPECT_EQ(r.warnings.size(), 1u);
  // Re-enabled: xAPIC mode, software-disabled, the version answers again.
  ASSERT_TRUE(r.apic.set_apic_base(kDefault | kBsp | kEn));
  EXPECT_EQ(r.r(0x30), Lapic::kVersion);
  EXPECT_EQ(r.r(0x20), 0x03000000u);
  EXPECT_EQ(r.r(0xf0), 0xffu);
}

TEST(LapicApicBase, ObserverFollowsThePage) {
  Rig r;
  ASSERT_TRUE(r.apic.set_apic_base(kDefault | kBsp));  // disable
  ASSERT_TRUE(r.apic.set_apic_base(0xfed40000 | kBsp | kEn));
  ASSERT_TRUE(r.apic.set_apic_base(0xfed40000 | kBsp | kEn));  // no move: no call
  ASSERT_TRUE(r.apic.set_apic_base(0xfee00000 | kBsp | kEn));
  ASSERT_TRUE(r.apic.set_apic_base(0xfee00000 | kBsp | kEn | kExtd));
  ASSERT_TRUE(r.apic.set_apic_base(0xfed00000 | kBsp | kEn | kExtd));  // moves, but not decoded
  std::vector<std::optional<uint64_t>> want = {std::nullopt, 0xfed40000, 0xfee00000, std::nullopt};
  EXPECT_EQ(r.pages, want);
  EXPECT_EQ(r.apic.apic_base(), 0xfed00000 | kBsp | kEn | kExtd);
}

TEST(LapicApicBase, BspFlagIsStoredAsWritten) {
  Rig r;
  ASSERT_TRUE(r.apic.set_apic_base(kDefault | kEn));
  EXPECT_EQ(r.apic.apic_base(), kDefault | kEn);
}

// --- x2APIC registers ---------------------------------------------------------

TEST(LapicX2apic, MsrsFaultOutsideX2apicMode) {
  Rig r;
  EXPECT_FALSE(r.apic.read_msr(0x802));
  EXPECT_FALSE(r.apic.write_msr(0x808, 0));
  ASSERT_TRUE(r.apic.set_apic_base(kDefault | kBsp));
  EXPECT_FALSE(r.apic.read_msr(0x803));
  EXPECT_FALSE(r.apic.write_msr(0x83f, 0x40));
  EXPECT_FALSE(r.apic.read_msr(0x10));  // not an APIC MSR at all
  EXPECT_FALSE(r.apic.write_msr(0x900, 0));
  EXPECT_EQ(r.warnings.size(), 6u);
}

TEST(LapicX2apic, MmioIsNotDecodedInX2apicMode) {
  Rig r;
  r.to_x2apic();
  EXPECT_FALSE(r.apic.mmio_base());
  EXPECT_EQ(r.r(0x30), 0xffffffffu);
  r.w(0x80, 0x50);
  EXPECT_EQ(r.msr(0x808), 0u);
}

// Table 11-6, as kvm-unit-tests' msr.c checks every MSR of the range.
TEST(LapicX2apic, EveryRegisterHasTheTable11_6Access) {
  Rig r;
  r.to_x2apic();
  std::set<uint32_t> ro = {0x802, 0x803, 0x80a, 0x80d, 0x839};
  for (uint32_t i = 0x810; i <= 0x827; ++i) ro.insert(i);  // ISR, TMR, IRR
  const std::set<uint32_t> rw = {0x808, 0x80f, 0x828, 0x830, 0x832, 0x833,
                                 0x834, 0x835, 0x836, 0x837, 0x838, 0x83e};
  const std::set<uint32_t> wo = {0x80b, 0x83f};
  for (uint32_t msr = 0x800; msr <= 0x8ff; ++msr) {
    bool readable = ro.count(msr) || rw.count(msr);
    bool writable = rw.count(msr) || wo.count(msr);
    std::optional<uint64_t> v = r.apic.read_msr(msr);
    EXPECT_EQ(v.has_value(), readable) << std::hex << msr;
    if (v) {
      EXPECT_EQ(*v >> 32, 0u) << std::hex << msr << " (only ICR is 64-bit)";
    }
    if (msr != 0x830) {
      EXPECT_FALSE(r.apic.write_msr(msr, ~uint64_t{0})) << std::hex << msr;
    }
    if (!writable) {
      EXPECT_FALSE(r.apic.write_msr(msr, 0)) << std::hex << msr;
    } else if (wo.count(msr)) {
      EXPECT_TRUE(r.apic.write_msr(msr, 0)) << std::hex << msr;
    } else {
      EXPECT_TRUE(r.apic.write_msr(msr, v.value_or(0))) << std::hex << msr;
      EXPECT_EQ(r.apic.read_msr(msr), v) << std::hex << msr << " reads back what was written";
    }
  }
}

TEST(LapicX2apic, IdIsTheInitialIdAndLdrIsDerived) {
  Rig r(0x23);
  r.w(0x20, 0x05000000);  // an xAPIC ID written before the switch is not kept
  r.w(0xd0, 0xff000000);
  r.to_x2apic();
  EXPECT_EQ(r.msr(0x802), 0x23u);
  EXPECT_EQ(r.msr(0x80d), (2u << 16) | (1u << 3));  // cluster 2, logical ID bit 3
  EXPECT_FALSE(r.apic.write_msr(0x802, 0x24));
  EXPECT_FALSE(r.apic.write_msr(0x80d, 0));
  EXPECT_FALSE(r.apic.read_msr(0x80e)) << "no DFR in x2APIC mode";
  EXPECT_TRUE(r.apic.is_destination(0x23, false));
  EXPECT_FALSE(r.apic.is_destination(0x05, false));
  EXPECT_TRUE(r.apic.is_destination(0xff, false)) << "8-bit broadcast from the IOAPIC";
}

TEST(LapicX2apic, RegistersOtherThanIdLdrAndIcrHighSurviveTheSwitch) {
  Rig r;
  r.w(0xf0, 0x1ff);
  r.w(0x80, 0x30);
  r.w(0x360, 0x400);  // LINT1: NMI
  r.w(0x310, 0x07000000);
  r.w(0x300, 0x000c0000);  // all excluding self: nobody, nothing sent
  r.to_x2apic();
  EXPECT_EQ(r.msr(0x808), 0x30u);
  EXPECT_EQ(r.msr(0x836), 0x400u);
  EXPECT_EQ(r.msr(0x830), 0x000c0000u);  // destination half cleared (11.12.5.2)
}

TEST(LapicX2apic, IcrIs64BitsWithA32BitDestination) {
  Rig r(0x23);
  r.to_x2apic();
  ASSERT_TRUE(r.apic.write_msr(0x830, (uint64_t{0x23} << 32) | 0x41));  // physical, to 0x23
  EXPECT_EQ(r.msr(0x830), (uint64_t{0x23} << 32) | 0x41);
  EXPECT_EQ(r.apic.acknowledge(), 0x41);
  ASSERT_TRUE(r.apic.write_msr(0x80b, 0));                               // EOI
  ASSERT_TRUE(r.apic.write_msr(0x830, (uint64_t{0x123} << 32) | 0x42));  // another x2APIC ID
  EXPECT_FALSE(r.apic.has_interrupt());
  // Logical: cluster 2, bit 3.
  ASSERT_TRUE(r.apic.write_msr(0x830, (uint64_t{0x00020008} << 32) | 0x800 | 0x43));
  EXPECT_EQ(r.apic.acknowledge(), 0x43);
  ASSERT_TRUE(r.apic.write_msr(0x80b, 0));  // EOI
  ASSERT_TRUE(r.apic.write_msr(0x830, (uint64_t{0x00010008} << 32) | 0x800 | 0x44));
  EXPECT_FALSE(r.apic.has_interrupt());
  ASSERT_TRUE(r.apic.write_msr(0x830, (uint64_t{0xffffffff} << 32) | 0x45));  // broadcast
  EXPECT_EQ(r.apic.acknowledge(), 0x45);
  ASSERT_TRUE(r.apic.write_msr(0x80b, 0));                   // EOI
  ASSERT_TRUE(r.apic.write_msr(0x830, (1u << 18) | 0x400));  // NMI to self
  EXPECT_TRUE(r.apic.take_nmi());
}

TEST(LapicX2apic, SelfIpiTakesAVectorOnly) {
  Rig r;
  r.to_x2apic();
  ASSERT_TRUE(r.apic.write_msr(0x83f, 0x51));
  EXPECT_EQ(r.apic.acknowledge(), 0x51);
  EXPECT_FALSE(r.apic.write_msr(0x83f, 0x100));
  EXPECT_FALSE(r.apic.write_msr(0x83f, 0xff000000));
  EXPECT_FALSE(r.apic.read_msr(0x83f));
  ASSERT_TRUE(r.apic.write_msr(0x83f, 0x05));  // illegal vector: a send error
  ASSERT_TRUE(r.apic.write_msr(0x828, 0));
  EXPECT_EQ(r.msr(0x828), 1u << 5);
}

TEST(LapicX2apic, EoiAndEsrTakeOnlyZero) {
  Rig r;
  r.to_x2apic();
  ASSERT_TRUE(r.apic.accept_interrupt(0x61, false));
  ASSERT_EQ(r.apic.acknowledge(), 0x61);
  EXPECT_FALSE(r.apic.write_msr(0x80b, 1));
  EXPECT_NE(r.msr(0x813), 0u);  // still in service
  EXPECT_TRUE(r.apic.write_msr(0x80b, 0));
  EXPECT_EQ(r.msr(0x813), 0u);
  EXPECT_FALSE(r.apic.write_msr(0x828, 1));
}

TEST(LapicX2apic, TimerAndLvtsThroughMsrs) {
  Rig r;
  r.to_x2apic();
  ASSERT_TRUE(r.apic.write_msr(0x83e, 0xb));  // divide by 1
  ASSERT_TRUE(r.apic.write_msr(0x832, 0x40));
  ASSERT_TRUE(r.apic.write_msr(0x838, 500));
  r.clock.set(200);
  EXPECT_EQ(r.msr(0x839), 300u);
  EXPECT_EQ(r.apic.next_deadline_ns(), 500u);
  r.clock.set(500);
  r.apic.advance(500);
  EXPECT_EQ(r.apic.acknowledge(), 0x40);
}

TEST(LapicX2apic, SaveRestoreKeepsModeAndTellsTheObserver) {
  Rig a(0x23);
  a.to_x2apic();
  ASSERT_TRUE(a.apic.write_msr(0x808, 0x20));
  Rig b(0x23);
  b.apic.restore(a.apic.save());
  EXPECT_EQ(b.apic.mode(), Lapic::Mode::kX2apic);
  EXPECT_EQ(b.msr(0x808), 0x20u);
  EXPECT_EQ(b.msr(0x80d), a.msr(0x80d));
  ASSERT_EQ(b.pages.size(), 1u);
  EXPECT_FALSE(b.pages[0]);
  Rig c;
  c.apic.restore(Rig().apic.save());
  EXPECT_EQ(c.pages, std::vector<std::optional<uint64_t>>{kDefault});
  Lapic::State invalid;
  invalid.apic_base = kDefault | kExtd;  // EN=0, EXTD=1: never reachable by WRMSR
  c.apic.restore(invalid);
  EXPECT_EQ(c.apic.mode(), Lapic::Mode::kDisabled);
  EXPECT_FALSE(c.apic.read_msr(0x802));
  EXPECT_TRUE(c.apic.set_apic_base(kDefault | kBsp | kEn));
}

TEST(LapicX2apic, GarbageMsrsNeverCrash) {
  Rig r;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100000; ++i) {
    uint32_t msr =
        rng() % 8 == 0 ? Lapic::kMsrApicBase : 0x7f0 + static_cast<uint32_t>(rng() % 0x120);
    uint64_t v = rng() % 2 ? rng() : rng() % 0x1000;
    if (msr == Lapic::kMsrApicBase && rng() % 2) v = kDefault | (rng() % 4) << 10;
    if (rng() % 2) {
      r.apic.write_msr(msr, v);
    } else {
      r.apic.read_msr(msr);
    }
    if (rng() % 8 == 0) r.apic.acknowledge();
    if (i % 1000 == 0) r.warnings.clear();
  }
  ASSERT_TRUE(r.apic.set_apic_base(kDefault | kBsp) || r.apic.mode() == Lapic::Mode::kDisabled);
  ASSERT_TRUE(r.apic.set_apic_base(kDefault | kBsp | kEn));
  EXPECT_EQ(r.r(0x30), Lapic::kVersion);
}

}  // namespace
}  // namespace rrvm
