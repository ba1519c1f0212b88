// ACPI fixed hardware: PM1 event/control registers and the PM timer (ACPI
// 6.5, 4.8.3), with the PIIX4 block layout and S5 = SLP_TYP 0.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "devices/acpi_pm.h"

namespace rrvm {
namespace {

constexpr uint64_t kEvt = AcpiPm::kPm1EvtOffset, kCnt = AcpiPm::kPm1CntOffset;
constexpr uint64_t kTmrBlk = AcpiPm::kPmTmrOffset;

struct Rig {
  ManualClock clock;
  TestIrqLine sci;
  int power_offs = 0, sleeps = 0;
  std::vector<std::string> warnings;
  AcpiPm pm{clock, sci, [this] { ++power_offs; },
            [this](const std::string& m) { warnings.push_back(m); }, [this] { ++sleeps; }};

  uint32_t in(uint64_t off, size_t width) {
    uint8_t b[4] = {};
    pm.read(off, std::span<uint8_t>(b, width));
    return static_cast<uint32_t>(load_le(std::span<const uint8_t>(b, width)));
  }
  void out(uint64_t off, size_t width, uint32_t v) {
    uint8_t b[4];
    store_le(std::span<uint8_t>(b, width), v);
    pm.write(off, std::span<const uint8_t>(b, width));
  }
  void run_to(uint64_t ns) {
    clock.set(ns);
    pm.advance(ns);
  }
};

// Ticks of the 3.579545 MHz timer at bit 23 carries.
uint64_t carry_ns(uint64_t n) {
  return ticks_to_ns(n << 23, AcpiPm::kTimerHz);
}

TEST(AcpiPm, TimerCountsAt3579545Hz) {
  Rig r;
  EXPECT_EQ(r.in(kTmrBlk, 4), 0u);
  r.clock.set(1'000'000'000);
  EXPECT_EQ(r.in(kTmrBlk, 4), 3579545u);  // one second
  r.clock.set(10'000'000'000);
  EXPECT_EQ(r.in(kTmrBlk, 4), 35795450u % (1u << 24));  // 24-bit wrap
  EXPECT_EQ(r.in(kTmrBlk + 3, 1), 0u);                  // TMR_VAL_EXT = 0: bits 31:24 read 0
}

TEST(AcpiPm, TmrStsSetOnBit23TransitionAndClearedByWritingOne) {
  Rig r;
  r.clock.set(carry_ns(1) - 1);
  EXPECT_EQ(r.in(kEvt, 2) & AcpiPm::kTmr, 0u);
  r.clock.set(carry_ns(1));
  EXPECT_EQ(r.in(kEvt, 2) & AcpiPm::kTmr, AcpiPm::kTmr);
  r.out(kEvt, 2, 0);  // writing 0 leaves status alone
  EXPECT_EQ(r.in(kEvt, 2) & AcpiPm::kTmr, AcpiPm::kTmr);
  r.out(kEvt, 2, AcpiPm::kTmr);
  EXPECT_EQ(r.in(kEvt, 2) & AcpiPm::kTmr, 0u);
  r.clock.set(carry_ns(2));  // the 1 -> 0 transition of bit 23 counts too
  EXPECT_EQ(r.in(kEvt, 2) & AcpiPm::kTmr, AcpiPm::kTmr);
}

TEST(AcpiPm, TimerSciNeedsTmrEnAndSciEn) {
  Rig r;
  EXPECT_EQ(r.pm.next_deadline_ns(), std::nullopt);
  r.out(kEvt + 2, 2, AcpiPm::kTmr);  // TMR_EN
  EXPECT_EQ(r.in(kEvt + 2, 2), AcpiPm::kTmr);
  EXPECT_EQ(r.pm.next_deadline_ns(), carry_ns(1));
  r.run_to(carry_ns(1) - 1);
  EXPECT_FALSE(r.sci.level);
  r.run_to(carry_ns(1));
  EXPECT_TRUE(r.sci.level);
  EXPECT_EQ(r.pm.next_deadline_ns(), std::nullopt);  // TMR_STS already set
  r.out(kEvt, 2, AcpiPm::kTmr);
  EXPECT_FALSE(r.sci.level);
  EXPECT_EQ(r.pm.next_deadline_ns(), carry_ns(2));
  r.out(kCnt, 2, 0);  // SCI_EN off: no SCI
  r.run_to(carry_ns(2));
  EXPECT_FALSE(r.sci.level);
}

TEST(AcpiPm, PowerButtonRaisesSciWhenEnabled) {
  Rig r;
  r.pm.press_power_button();
  EXPECT_FALSE(r.sci.level);
  EXPECT_EQ(r.in(kEvt, 2), AcpiPm::kPwrBtn);
  r.out(kEvt + 2, 2, AcpiPm::kPwrBtn);
  EXPECT_TRUE(r.sci.level);
  r.out(kEvt, 2, AcpiPm::kPwrBtn);
  EXPECT_FALSE(r.sci.level);
}

TEST(AcpiPm, SciEnSetAtResetAndWriteOnlyBitsReadZero) {
  Rig r;
  EXPECT_EQ(r.in(kCnt, 2), AcpiPm::kSciEn);
  r.out(kCnt, 2, 0x1c07);  // SCI_EN, BM_RLD, GBL_RLS, SLP_TYP = 7, no SLP_EN
  EXPECT_EQ(r.in(kCnt, 2), 0x1c03u);
  EXPECT_EQ(r.power_offs, 0);
}

TEST(AcpiPm, S5WriteCallsPowerOff) {
  Rig r;
  r.out(kCnt, 2, AcpiPm::kSlpEn | (AcpiPm::kSlpTypS5 << AcpiPm::kSlpTypShift));  // outw 0x2000
  EXPECT_EQ(r.power_offs, 1);
  EXPECT_TRUE(r.pm.powered_off());
  EXPECT_EQ(r.in(kCnt, 2) & AcpiPm::kSlpEn, 0u);
}

TEST(AcpiPm, S5ByByteWriteToHighByte) {
  Rig r;
  r.out(kCnt + 1, 1, 0x20);
  EXPECT_EQ(r.power_offs, 1);
}

TEST(AcpiPm, OtherSleepTypesAreIgnoredWithWarning) {
  Rig r;
  r.out(kCnt, 2, AcpiPm::kSlpEn | (5u << AcpiPm::kSlpTypShift));  // 0x3400, Bochs' S5 value
  EXPECT_EQ(r.power_offs, 0);
  EXPECT_EQ(r.sleeps, 0);
  EXPECT_FALSE(r.pm.sleeping());
  EXPECT_EQ(r.warnings.size(), 1u);
}

constexpr uint32_t kEnterS3 = AcpiPm::kSlpEn | (AcpiPm::kSlpTypS3 << AcpiPm::kSlpTypShift);

// kvm-unit-tests' s3: RTC_EN, then outw 0x2400; the RTC's alarm
// interrupt wakes the machine and WAK_STS and RTC_STS say why.
TEST(AcpiPm, S3SleepsUntilTheRtcInterruptWithRtcEn) {
  Rig r;
  r.out(kEvt + 2, 2, AcpiPm::kRtc);
  r.out(kCnt, 2, kEnterS3 | AcpiPm::kSciEn);  // an OS keeps SCI_EN (kvm-unit-tests clears it)
  EXPECT_EQ(r.sleeps, 1);
  EXPECT_TRUE(r.pm.sleeping());
  EXPECT_EQ(r.power_offs, 0);
  EXPECT_EQ(r.in(kEvt, 2) & AcpiPm::kWak, 0u);
  r.pm.rtc_input().set_level(true);
  EXPECT_FALSE(r.pm.sleeping());
  EXPECT_EQ(r.in(kEvt, 2), AcpiPm::kWak | AcpiPm::kRtc);
  EXPECT_TRUE(r.sci.level) << "RTC_STS with RTC_EN raises the SCI";
  r.out(kEvt, 2, AcpiPm::kWak | AcpiPm::kRtc);  // write 1 to clear
  EXPECT_EQ(r.in(kEvt, 2), 0u);
  EXPECT_FALSE(r.sci.level);
}

// Without RTC_EN the RTC's interrupt only sets RTC_STS; the power button
// wakes the machine whatever PM1_EN says (ACPI 6.5, 4.8.3.1.1).
TEST(AcpiPm, S3IgnoresADisabledEventAndWakesOnThePowerButton) {
  Rig r;
  r.out(kCnt, 2, kEnterS3);
  r.pm.rtc_input().set_level(true);
  EXPECT_TRUE(r.pm.sleeping());
  EXPECT_EQ(r.in(kEvt, 2), AcpiPm::kRtc);
  EXPECT_FALSE(r.sci.level);
  r.pm.press_power_button();
  EXPECT_FALSE(r.pm.sleeping());
  EXPECT_EQ(r.in(kEvt, 2), AcpiPm::kWak | AcpiPm::kPwrBtn | AcpiPm::kRtc);
}

// RTC_STS follows the rising edges of the RTC's interrupt: a line held
// high sets it once, and again only after it fell and rose.
TEST(AcpiPm, RtcStsIsSetOnTheRisingEdgeOfTheRtcInterrupt) {
  Rig r;
  r.pm.rtc_input().set_level(true);
  r.out(kEvt, 2, AcpiPm::kRtc);
  r.pm.rtc_input().set_level(true);
  EXPECT_EQ(r.in(kEvt, 2), 0u) << "no new edge";
  r.pm.rtc_input().set_level(false);
  r.pm.rtc_input().set_level(true);
  EXPECT_EQ(r.in(kEvt, 2), AcpiPm::kRtc);
}

// A checkpoint taken while the machine sleeps comes back asleep.
TEST(AcpiPm, SleepingSurvivesSaveAndRestore) {
  Rig a;
  a.out(kEvt + 2, 2, AcpiPm::kRtc);
  a.out(kCnt, 2, kEnterS3);
  Rig b;
  b.pm.restore(a.pm.save());
  EXPECT_TRUE(b.pm.sleeping());
  b.pm.rtc_input().set_level(true);
  EXPECT_FALSE(b.pm.sleeping());
}

TEST(AcpiPm, ReservedAndOutOfBlockBytes) {
  Rig r;
  EXPECT_EQ(r.in(6, 2), 0u);
  EXPECT_EQ(r.in(12, 4), 0xffffffffu);
  r.out(kTmrBlk, 4, 0x123456);  // the timer is read-only
  EXPECT_EQ(r.in(kTmrBlk, 4), 0u);
}

TEST(AcpiPm, SaveRestoreRoundTrip) {
  Rig a;
  a.out(kEvt + 2, 2, AcpiPm::kTmr | AcpiPm::kPwrBtn);
  a.pm.press_power_button();
  a.run_to(carry_ns(1) + 5);
  Rig b;
  b.clock.set(carry_ns(1) + 5);
  b.pm.restore(a.pm.save());
  EXPECT_EQ(b.in(kEvt, 4), a.in(kEvt, 4));
  EXPECT_EQ(b.in(kCnt, 2), a.in(kCnt, 2));
  EXPECT_EQ(b.pm.next_deadline_ns(), a.pm.next_deadline_ns());
  b.out(kEvt, 2, 0xffff);  // the restored SCI level is known: clearing lowers it
  EXPECT_FALSE(b.pm.save().sci);
}

TEST(AcpiPm, GarbageNeverCrashes) {
  Rig r;
  std::mt19937 rng(11);
  const size_t widths[] = {1, 2, 4, 8};
  for (int i = 0; i < 100000; ++i) {
    uint8_t buf[8];
    for (auto& x : buf) x = static_cast<uint8_t>(rng());
    size_t w = widths[rng() % 4];
    uint64_t off = rng() % 16;
    if (rng() % 2) {
      r.pm.write(off, std::span<const uint8_t>(buf, w));
    } else {
      r.pm.read(off, std::span<uint8_t>(buf, w));
    }
    if (rng() % 4 == 0) r.run_to(r.clock.now_ns() + rng() % 10'000'000);
    if (i % 1000 == 0) r.warnings.clear();
  }
  EXPECT_EQ(r.in(kTmrBlk, 4), AcpiPm::timer_value(r.clock.now_ns()));
  EXPECT_EQ(r.in(kEvt, 4) & ~uint32_t{0x07218721}, 0u);  // only defined STS/EN bits
}

}  // namespace
}  // namespace rrvm
