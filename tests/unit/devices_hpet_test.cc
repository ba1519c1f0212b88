// IA-PC HPET 1.0a behaviour, timed with a ManualClock: the registers, the
// 100 MHz main counter, one-shot and periodic timers, 32-bit mode, edge and
// level interrupts, LegacyReplacement routing and save/restore.
#include "devices/hpet.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace rrvm {
namespace {

constexpr uint64_t kConf = Hpet::kGenConf, kSta = Hpet::kGintrSta, kCnt = Hpet::kMainCnt;
constexpr uint64_t kEnable = Hpet::kEnableCnf, kLegacy = Hpet::kLegRtCnf;
constexpr uint64_t kMs = 1'000'000;

uint64_t conf(int n) {
  return Hpet::timer_reg(n, Hpet::kTnConfCap);
}
uint64_t cmp(int n) {
  return Hpet::timer_reg(n, Hpet::kTnComparator);
}
// Tn_CONF_CAP value routing to IOAPIC input `route` with `bits`.
uint64_t route(int route, uint64_t bits) {
  return uint64_t(route) << Hpet::kIntRouteShift | bits;
}

// The PC wiring: ISA IRQ0 and IRQ8, and IOAPIC inputs 20-23.
struct Rig {
  ManualClock clock;
  TestIrqLine irq0, irq8;
  std::array<TestIrqLine, 4> pin;  // IOAPIC inputs 20-23
  std::vector<std::string> warnings;
  Hpet hpet{clock, wiring(true), [this](const std::string& m) { warnings.push_back(m); }};

  Hpet::Wiring wiring(bool legacy) {
    Hpet::Wiring w;
    if (legacy) {
      w.irq0 = &irq0;
      w.irq8 = &irq8;
    }
    for (int i = 0; i < 4; ++i) w.ioapic[20 + i] = &pin[i];
    return w;
  }
  uint64_t rd(uint64_t off, size_t width = 8) {
    uint8_t b[8] = {};
    hpet.read(off, std::span<uint8_t>(b, width));
    return load_le(std::span<const uint8_t>(b, width));
  }
  void wr(uint64_t off, uint64_t v, size_t width = 8) {
    uint8_t b[8];
    store_le(std::span<uint8_t>(b, width), v);
    hpet.write(off, std::span<const uint8_t>(b, width));
  }
  void run_to(uint64_t ns) {
    clock.set(ns);
    hpet.advance(ns);
  }
  // Runs to the next deadline, which must exist.
  uint64_t run_to_deadline() {
    auto d = hpet.next_deadline_ns();
    EXPECT_TRUE(d.has_value());
    run_to(d.value_or(clock.now_ns()));
    return clock.now_ns();
  }
};

TEST(Hpet, CapabilitiesAreRevision1ThreeTimers64BitLegacyIntel10ns) {
  Rig r;
  EXPECT_EQ(r.rd(Hpet::kGcapId), 0x00989680'8086A201u);
  EXPECT_EQ(r.rd(Hpet::kGcapId, 4), 0x8086A201u);
  EXPECT_EQ(r.rd(Hpet::kGcapId + 4, 4), 10'000'000u);  // COUNTER_CLK_PERIOD in fs
  r.wr(Hpet::kGcapId, 0);                              // read-only
  EXPECT_EQ(r.rd(Hpet::kGcapId), 0x00989680'8086A201u);
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(Hpet, TimerCapabilitiesOfferTheWiredIoapicInputsAndPeriodicOnTimer0) {
  Rig r;
  EXPECT_EQ(r.rd(conf(0)), 0x00F00000'00000030u);  // INT_ROUTE_CAP 20-23, PER_INT_CAP, SIZE_CAP
  EXPECT_EQ(r.rd(conf(1)), 0x00F00000'00000020u);  // one-shot only
  EXPECT_EQ(r.rd(conf(2) + 4, 4), 0x00F00000u);
  r.wr(conf(1), Hpet::kTypeCnf | Hpet::kFsbEnCnf | Hpet::kFsbIntDelCap | Hpet::kPerIntCap);
  EXPECT_EQ(r.rd(conf(1), 4), 0x20u) << "TYPE_CNF needs PER_INT_CAP; no FSB delivery";
  r.wr(conf(0), Hpet::kTypeCnf);
  EXPECT_EQ(r.rd(conf(0), 4), 0x38u);
}

TEST(Hpet, NoLegacyCapabilityWithoutIrq0AndIrq8) {
  Rig r;
  Hpet bare{r.clock, r.wiring(false)};
  EXPECT_EQ(bare.capabilities() & Hpet::kLegRtCap, 0u);
  uint8_t b[8];
  store_le(b, kLegacy | kEnable);
  bare.write(kConf, b);
  bare.read(kConf, b);
  EXPECT_EQ(load_le(b), kEnable);
  EXPECT_EQ(r.rd(kConf), 0u);  // the rig's own HPET is untouched
  r.wr(kConf, kLegacy | kEnable);
  EXPECT_EQ(r.rd(kConf), kLegacy | kEnable);
}

TEST(Hpet, CounterHoldsWhileHaltedAndCountsAt100MHzWhenEnabled) {
  Rig r;
  r.clock.set(1'000 * kMs);
  EXPECT_EQ(r.rd(kCnt), 0u);
  r.wr(kConf, kEnable);
  r.clock.advance(1 * kMs);
  EXPECT_EQ(r.rd(kCnt), 100'000u);
  r.clock.advance(25);  // 2.5 ticks of 10 ns
  EXPECT_EQ(r.rd(kCnt), 100'002u);
  r.wr(kConf, 0);
  r.clock.advance(5 * kMs);
  EXPECT_EQ(r.rd(kCnt), 100'002u) << "halted";
  r.wr(kConf, kEnable);
  r.clock.advance(10);
  EXPECT_EQ(r.rd(kCnt), 100'003u) << "resumes from the held value";
}

TEST(Hpet, CounterReadsAsHalvesAndIsWritableWhileHalted) {
  Rig r;
  r.wr(kCnt, 0x12345678'9abcdef0u);
  EXPECT_EQ(r.rd(kCnt), 0x12345678'9abcdef0u);
  EXPECT_EQ(r.rd(kCnt, 4), 0x9abcdef0u);
  EXPECT_EQ(r.rd(kCnt + 4, 4), 0x12345678u);
  r.wr(kCnt + 4, 0xffffffff, 4);
  r.wr(kCnt, 0xfffffff0, 4);
  EXPECT_EQ(r.rd(kCnt), 0xffffffff'fffffff0u);
  r.wr(kConf, kEnable);
  r.clock.advance(200);  // 20 ticks: the 64-bit counter wraps to 4
  EXPECT_EQ(r.rd(kCnt), 4u);
  EXPECT_TRUE(r.warnings.empty());
  r.wr(kCnt, 1000);  // while running: loaded, with a warning
  EXPECT_EQ(r.rd(kCnt), 1000u);
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(Hpet, OneShotEdgeTimerPulsesItsRouteOnceAtTheMatch) {
  Rig r;
  r.clock.set(7 * kMs);
  r.wr(conf(2), route(21, Hpet::kIntEnbCnf));
  r.wr(cmp(2), 1000);
  EXPECT_EQ(r.hpet.next_deadline_ns(), std::nullopt) << "the counter is halted";
  r.wr(kConf, kEnable);
  EXPECT_EQ(r.hpet.next_deadline_ns(), 7 * kMs + 1000 * 10);
  r.run_to(7 * kMs + 9999);
  EXPECT_EQ(r.pin[1].rising_edges, 0);
  r.run_to(7 * kMs + 10000);
  EXPECT_EQ(r.pin[1].rising_edges, 1);
  EXPECT_FALSE(r.pin[1].level);
  EXPECT_EQ(r.rd(kSta), 0u) << "edge timers leave GINTR_STA alone";
  EXPECT_EQ(r.rd(cmp(2)), 1000u) << "a one-shot comparator does not move";
  EXPECT_EQ(r.hpet.next_deadline_ns(), std::nullopt) << "64-bit: the next match is 2^64 ticks away";
  r.run_to(1'000'000 * kMs);
  EXPECT_EQ(r.pin[1].rising_edges, 1);
}

TEST(Hpet, ComparatorTheCounterHasPassedWaitsForTheWrap) {
  Rig r;
  r.wr(kCnt, 5000);
  r.wr(conf(2), route(20, Hpet::kIntEnbCnf));
  r.wr(cmp(2), 4000);
  r.wr(kConf, kEnable);
  EXPECT_EQ(r.hpet.next_deadline_ns(), std::nullopt);
  r.wr(conf(2), route(20, Hpet::kIntEnbCnf | Hpet::k32ModeCnf));  // one-shot: fires at the wrap
  EXPECT_EQ(r.hpet.next_deadline_ns(), ((uint64_t{1} << 32) - 5000) * 10);
}

TEST(Hpet, InterruptsNeedIntEnbEnableAndARoute) {
  Rig r;
  r.wr(cmp(2), 100);
  r.wr(conf(2), Hpet::kIntEnbCnf);  // route 0: not wired, not in INT_ROUTE_CAP
  r.wr(kConf, kEnable);
  EXPECT_EQ(r.hpet.next_deadline_ns(), std::nullopt);
  r.wr(conf(2), route(22, 0));  // routed, INT_ENB_CNF clear
  EXPECT_EQ(r.hpet.next_deadline_ns(), std::nullopt);
  r.run_to(10 * kMs);
  EXPECT_EQ(r.pin[2].rising_edges, 0);
  r.wr(kConf, 0);
  r.wr(kCnt, 0);
  r.wr(kConf, kEnable);
  r.wr(conf(2), route(22, Hpet::kIntEnbCnf));
  EXPECT_EQ(r.run_to_deadline(), 10 * kMs + 1000);
  EXPECT_EQ(r.pin[2].rising_edges, 1);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(Hpet, RouteOutsideTheCapabilityIsNotTaken) {
  Rig r;
  r.wr(conf(1), route(23, Hpet::kIntEnbCnf));
  r.wr(conf(1), route(5, Hpet::kIntEnbCnf));
  EXPECT_EQ(r.rd(conf(1), 4), route(23, Hpet::kIntEnbCnf | Hpet::kSizeCap));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("IOAPIC input 5"), std::string::npos) << r.warnings[0];
}

TEST(Hpet, PeriodicTimerAddsThePeriodAtEachMatch) {
  Rig r;
  // Linux's hpet_set_periodic: VAL_SET_CNF, comparator = now + delta, then the period.
  r.wr(conf(0), route(20, Hpet::kIntEnbCnf | Hpet::kTypeCnf | Hpet::kValSetCnf));
  r.wr(cmp(0), 300);
  EXPECT_EQ(r.rd(conf(0), 4) & Hpet::kValSetCnf, 0u) << "VAL_SET_CNF clears itself";
  r.wr(cmp(0), 500);
  EXPECT_EQ(r.rd(cmp(0)), 300u) << "without VAL_SET_CNF only the period is written";
  r.wr(kConf, kEnable);
  EXPECT_EQ(r.run_to_deadline(), 3000u);
  EXPECT_EQ(r.rd(cmp(0)), 800u);
  EXPECT_EQ(r.run_to_deadline(), 8000u);
  EXPECT_EQ(r.run_to_deadline(), 13000u);
  EXPECT_EQ(r.pin[0].rising_edges, 3);
  // A long halt of the host: one edge, the comparator past the counter.
  r.run_to(100'000);  // counter 10000
  EXPECT_EQ(r.pin[0].rising_edges, 4);
  EXPECT_EQ(r.rd(cmp(0)), 10300u);
  EXPECT_EQ(r.hpet.next_deadline_ns(), 103'000u);
}

TEST(Hpet, PeriodicComparatorReadLazilyMatchesOneAdvancedStepByStep) {
  Rig lazy, eager;
  for (Rig* r : {&lazy, &eager}) {
    r->wr(conf(0), route(20, Hpet::kTypeCnf | Hpet::kValSetCnf));  // no interrupt: no deadline
    r->wr(cmp(0), 777);
    r->wr(kConf, kEnable);
  }
  for (uint64_t t = 0; t <= 5 * kMs; t += 12'345) eager.run_to(t);
  lazy.clock.set(eager.clock.now_ns());
  EXPECT_EQ(lazy.rd(cmp(0)), eager.rd(cmp(0)));
  EXPECT_EQ(lazy.rd(cmp(0)) % 777, 0u);
  EXPECT_GT(lazy.rd(cmp(0)), lazy.rd(kCnt));
}

TEST(Hpet, ThirtyTwoBitModeComparesTheLowHalfAndWrapsThePeriodicComparator) {
  Rig r;
  r.wr(cmp(0), 0x1'00000200u);  // one-shot, 64-bit
  r.wr(conf(0), route(20, Hpet::kIntEnbCnf | Hpet::k32ModeCnf));
  EXPECT_EQ(r.rd(cmp(0)), 0x200u) << "32-bit mode zeroes the upper half";
  r.wr(cmp(0) + 4, 0x7, 4);
  EXPECT_EQ(r.rd(cmp(0)), 0x200u) << "and ignores writes to it";
  // Periodic, 32-bit: FFFFFF00 + 0x300 wraps to 0x200.
  r.wr(conf(0), route(20, Hpet::kIntEnbCnf | Hpet::k32ModeCnf | Hpet::kTypeCnf | Hpet::kValSetCnf));
  r.wr(cmp(0), 0xffffff00u);
  r.wr(cmp(0), 0x300);
  r.wr(kCnt, 0x5'fffffe00u);
  r.wr(kConf, kEnable);
  EXPECT_EQ(r.run_to_deadline(), 0x100u * 10);
  EXPECT_EQ(r.rd(cmp(0)), 0x200u);
  EXPECT_EQ(r.run_to_deadline(), 0x400u * 10);
  EXPECT_EQ(r.pin[0].rising_edges, 2);
  EXPECT_EQ(r.rd(kCnt), 0x6'00000200u) << "the main counter stays 64-bit";
}

TEST(Hpet, ThirtyTwoBitOneShotAlsoFiresWhenTheCounterWraps) {
  Rig r;
  r.wr(conf(1), route(21, Hpet::kIntEnbCnf | Hpet::k32ModeCnf));
  r.wr(cmp(1), 0x100);
  r.wr(kCnt, 0xffffff00u);
  r.wr(kConf, kEnable);
  EXPECT_EQ(r.run_to_deadline(), 0x100u * 10) << "the wrap (2.3.9.2.1)";
  EXPECT_EQ(r.run_to_deadline(), 0x200u * 10) << "then the match";
  EXPECT_EQ(r.pin[1].rising_edges, 2);
  EXPECT_EQ(r.hpet.next_deadline_ns(), 0x1'00000100u * 10) << "the next wrap";
  // A 64-bit one-shot timer does not fire on a 32-bit wrap.
  Rig wide;
  wide.wr(conf(1), route(21, Hpet::kIntEnbCnf));
  wide.wr(cmp(1), 0x1'00000100u);
  wide.wr(kCnt, 0xffffff00u);
  wide.wr(kConf, kEnable);
  EXPECT_EQ(wide.run_to_deadline(), 0x200u * 10);
  EXPECT_EQ(wide.pin[1].rising_edges, 1);
}

TEST(Hpet, LevelTimerHoldsItsLineUntilGintrStaIsCleared) {
  Rig r;
  r.wr(conf(2), route(23, Hpet::kIntEnbCnf | Hpet::kIntTypeCnf));
  r.wr(cmp(2), 50);
  r.wr(kConf, kEnable);
  r.run_to_deadline();
  EXPECT_TRUE(r.pin[3].level);
  EXPECT_EQ(r.rd(kSta), 0b100u);
  EXPECT_EQ(r.hpet.next_deadline_ns(), std::nullopt) << "nothing more to change on the line";
  r.wr(kSta, 0b011);  // other bits: no effect
  EXPECT_TRUE(r.pin[3].level);
  r.wr(kConf, 0);  // halting disables every timer interrupt
  EXPECT_FALSE(r.pin[3].level);
  r.wr(kConf, kEnable);
  EXPECT_TRUE(r.pin[3].level);
  r.wr(kSta, 0b100);  // write 1 to clear
  EXPECT_FALSE(r.pin[3].level);
  EXPECT_EQ(r.rd(kSta), 0u);
  EXPECT_EQ(r.pin[3].rising_edges, 2);
}

TEST(Hpet, LevelTimerSetsItsStatusBitEvenWithInterruptsDisabled) {
  Rig r;
  r.wr(conf(1), route(22, Hpet::kIntTypeCnf));
  r.wr(cmp(1), 10);
  r.wr(kConf, kEnable);
  r.clock.set(1000);
  EXPECT_EQ(r.rd(kSta), 0b10u);
  EXPECT_FALSE(r.pin[2].level);
  r.wr(conf(1), route(22, Hpet::kIntTypeCnf | Hpet::kIntEnbCnf));
  EXPECT_TRUE(r.pin[2].level);
}

TEST(Hpet, TwoLevelTimersOnOneInputAreWiredOr) {
  Rig r;
  for (int n : {1, 2}) {
    r.wr(conf(n), route(20, Hpet::kIntEnbCnf | Hpet::kIntTypeCnf));
    r.wr(cmp(n), 10 * n);
  }
  r.wr(kConf, kEnable);
  r.run_to(1000);
  EXPECT_TRUE(r.pin[0].level);
  r.wr(kSta, 0b010);
  EXPECT_TRUE(r.pin[0].level) << "timer 2 still holds it";
  r.wr(kSta, 0b100);
  EXPECT_FALSE(r.pin[0].level);
  EXPECT_EQ(r.pin[0].rising_edges, 1);
}

TEST(Hpet, LegacyReplacementGivesIrq0AndIrq8ToTimers0And1) {
  Rig r;
  r.hpet.pit_input().pulse();
  EXPECT_EQ(r.irq0.rising_edges, 1) << "the 8254 reaches IRQ0 through the HPET";
  r.hpet.rtc_input().set_level(true);
  EXPECT_TRUE(r.irq8.level);
  r.wr(conf(0), route(20, Hpet::kIntEnbCnf));  // the route is ignored in legacy mode
  r.wr(cmp(0), 100);
  r.wr(conf(1), route(21, Hpet::kIntEnbCnf));
  r.wr(cmp(1), 200);
  r.wr(kConf, kEnable | kLegacy);
  EXPECT_FALSE(r.irq8.level) << "the RTC is cut off";
  r.hpet.pit_input().pulse();
  EXPECT_EQ(r.irq0.rising_edges, 1) << "and so is the 8254";
  r.run_to_deadline();
  EXPECT_EQ(r.irq0.rising_edges, 2);
  r.run_to_deadline();
  EXPECT_EQ(r.irq8.rising_edges, 2);
  EXPECT_EQ(r.pin[0].rising_edges + r.pin[1].rising_edges, 0);
  r.wr(kConf, kEnable);  // back to the standard option: the RTC's level shows again
  EXPECT_TRUE(r.irq8.level);
  EXPECT_EQ(r.irq8.rising_edges, 3);
}

TEST(Hpet, ByteAccessesWorkWithAWarning) {
  Rig r;
  r.wr(kCnt + 1, 0x12, 1);
  EXPECT_EQ(r.rd(kCnt), 0x1200u);
  EXPECT_EQ(r.rd(Hpet::kGcapId + 2, 2), 0x8086u);
  EXPECT_EQ(r.warnings.size(), 2u);
}

TEST(Hpet, ReservedAndMissingTimerRegistersReadZero) {
  Rig r;
  for (uint64_t off : {uint64_t{0x08}, uint64_t{0x30}, uint64_t{0xF8}, Hpet::timer_reg(0, 0x18),
                       Hpet::timer_reg(3, 0), Hpet::timer_reg(23, 8), uint64_t{0x3F8}}) {
    r.wr(off, ~uint64_t{0});
    EXPECT_EQ(r.rd(off), 0u) << std::hex << off;
  }
  EXPECT_EQ(r.warnings.size(), 7u);
  r.wr(Hpet::timer_reg(2, Hpet::kTnFsbRoute), 0xfee00000'00000041u);  // plain storage
  EXPECT_EQ(r.rd(Hpet::timer_reg(2, Hpet::kTnFsbRoute)), 0xfee00000'00000041u);
}

TEST(Hpet, RegisterNames) {
  Rig r;
  EXPECT_EQ(r.hpet.register_name(0xF4), "MAIN_CNT");
  EXPECT_EQ(r.hpet.register_name(0x10), "GEN_CONF");
  EXPECT_EQ(r.hpet.register_name(Hpet::timer_reg(2, 8)), "T2_COMPARATOR");
  EXPECT_EQ(r.hpet.register_name(Hpet::timer_reg(1, 0x14)), "T1_FSB_INT_ROUTE");
  EXPECT_EQ(r.hpet.register_name(0x28), "");
}

TEST(Hpet, SaveRestoreRoundTrip) {
  Rig a;
  a.wr(conf(0), route(20, Hpet::kIntEnbCnf | Hpet::kTypeCnf | Hpet::kValSetCnf));
  a.wr(cmp(0), 1234);
  a.wr(conf(2), route(22, Hpet::kIntEnbCnf | Hpet::kIntTypeCnf));
  a.wr(cmp(2), 5000);
  a.wr(kConf, kEnable);
  a.run_to(77'777);
  a.hpet.rtc_input().set_level(true);
  Rig b;
  b.clock.set(a.clock.now_ns());
  b.hpet.restore(a.hpet.save());
  EXPECT_EQ(a.hpet.next_deadline_ns(), b.hpet.next_deadline_ns());
  for (uint64_t off : {kConf, kSta, kCnt, conf(0), cmp(0), conf(2), cmp(2)})
    EXPECT_EQ(a.rd(off), b.rd(off)) << std::hex << off;
  for (Rig* r : {&a, &b}) r->run_to(200'000);
  EXPECT_EQ(a.pin[0].rising_edges - 1, b.pin[0].rising_edges) << "the one before the save";
  EXPECT_EQ(a.rd(kSta), b.rd(kSta));
  EXPECT_EQ(a.rd(cmp(0)), b.rd(cmp(0)));
  EXPECT_EQ(b.rd(kSta), 0b100u);
}

TEST(Hpet, GarbageNeverCrashes) {
  Rig r;
  std::mt19937 rng(12);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> buf(size_t{1} << (rng() % 4), static_cast<uint8_t>(rng()));
    uint64_t off = rng() % Hpet::kMmioSize;
    if (rng() % 2) {
      r.hpet.write(off, buf);
    } else {
      r.hpet.read(off, buf);
    }
    r.clock.advance(rng() % 50'000);
    r.hpet.advance(r.clock.now_ns());
    auto d = r.hpet.next_deadline_ns();
    EXPECT_GT(d.value_or(~uint64_t{0}), r.clock.now_ns())
        << "a deadline already due after advance()";
  }
}

}  // namespace
}  // namespace rrvm
