// MC146818A behaviour from the Motorola datasheet and the PC CMOS layout.
#include "devices/rtc.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace rrvm {
namespace {

constexpr uint64_t kSec = 1'000'000'000;
constexpr int64_t kJan2009 = 1230768000;  // 2009-01-01T00:00:00Z, a Thursday

struct Rig {
  explicit Rig(int64_t epoch = kJan2009) : rtc(clock, irq8, epoch) {}
  ManualClock clock;
  TestIrqLine irq8;
  Rtc146818 rtc;

  uint8_t get(uint8_t index) {
    const uint8_t i[1] = {index};
    rtc.write(0, i);
    uint8_t v[1] = {0};
    rtc.read(1, v);
    return v[0];
  }
  void set(uint8_t index, uint8_t value) {
    const uint8_t b[2] = {index, value};
    rtc.write(0, b);  // index then data, one 16-bit access
  }
  void at(uint64_t ns) {
    clock.set(ns);
    rtc.advance(ns);
  }
};

TEST(Rtc, ReadsEpochPlusClockTimeInBcd) {
  Rig r;
  EXPECT_EQ(r.get(0x00), 0x00);
  EXPECT_EQ(r.get(0x04), 0x00);
  EXPECT_EQ(r.get(0x06), 5);  // Thursday
  EXPECT_EQ(r.get(0x07), 0x01);
  EXPECT_EQ(r.get(0x08), 0x01);
  EXPECT_EQ(r.get(0x09), 0x09);
  EXPECT_EQ(r.get(0x32), 0x20);  // century
  r.clock.set(3661 * kSec + kSec / 2);
  EXPECT_EQ(r.get(0x00), 0x01);
  EXPECT_EQ(r.get(0x02), 0x01);
  EXPECT_EQ(r.get(0x04), 0x01);
  r.clock.set(59 * kSec + 3600 * 13 * kSec);
  EXPECT_EQ(r.get(0x00), 0x59);  // BCD, not 0x3b
  EXPECT_EQ(r.get(0x04), 0x13);
}

TEST(Rtc, BinaryModeWhenDmSet) {
  Rig r(1700000000);  // 2023-11-14T22:13:20Z, a Tuesday
  EXPECT_EQ(r.get(0x04), 0x22);
  r.set(0x0b, 0x06);  // 24h, binary
  EXPECT_EQ(r.get(0x00), 20);
  EXPECT_EQ(r.get(0x02), 13);
  EXPECT_EQ(r.get(0x04), 22);
  EXPECT_EQ(r.get(0x06), 3);
  EXPECT_EQ(r.get(0x07), 14);
  EXPECT_EQ(r.get(0x08), 11);
  EXPECT_EQ(r.get(0x09), 23);
  EXPECT_EQ(r.get(0x32), 20);
}

TEST(Rtc, TwelveHourModeSetsPmBit) {
  Rig r(1700000000);
  r.set(0x0b, 0x00);             // 12h, BCD
  EXPECT_EQ(r.get(0x04), 0x90);  // 10 PM
  r.clock.set(2 * 3600 * kSec);  // 00:13:20 next day
  EXPECT_EQ(r.get(0x04), 0x12);  // 12 AM
  r.set(0x0b, 0x80);             // SET, 12h BCD
  r.set(0x04, 0x81);             // write 1 PM
  r.set(0x0b, 0x02);             // back to 24h
  EXPECT_EQ(r.get(0x04), 0x13);
}

TEST(Rtc, UipIsSetInTheLast244usBeforeAnUpdate) {
  Rig r;
  r.clock.set(kSec / 2);
  EXPECT_EQ(r.get(0x0a), 0x26);  // reset value, UIP clear
  r.clock.set(kSec - 300'000);
  EXPECT_FALSE(r.get(0x0a) & 0x80);
  r.clock.set(kSec - 200'000);
  EXPECT_TRUE(r.get(0x0a) & 0x80);
  EXPECT_EQ(r.get(0x00), 0x00);  // the update has not happened yet
  r.clock.set(kSec);
  EXPECT_FALSE(r.get(0x0a) & 0x80);
  EXPECT_EQ(r.get(0x00), 0x01);
}

TEST(Rtc, SetBitFreezesTimeAndWritesTakeEffect) {
  Rig r;
  r.clock.set(kSec / 4);
  r.set(0x0b, 0x82);  // SET
  EXPECT_FALSE(r.get(0x0a) & 0x80);
  r.set(0x04, 0x05);
  r.set(0x02, 0x30);
  r.set(0x00, 0x00);
  r.set(0x07, 0x31);  // Jan 31
  r.set(0x08, 0x02);  // ... February 31 while SET: kept as written
  r.clock.set(10 * kSec);
  EXPECT_EQ(r.get(0x04), 0x05);
  EXPECT_EQ(r.get(0x02), 0x30);
  EXPECT_EQ(r.get(0x00), 0x00);
  EXPECT_EQ(r.get(0x08), 0x02);
  r.set(0x07, 0x15);
  r.set(0x0b, 0x02);  // run; the divider phase is unchanged
  r.clock.set(11 * kSec - 1);
  EXPECT_EQ(r.get(0x00), 0x00);
  r.clock.set(11 * kSec);
  EXPECT_EQ(r.get(0x00), 0x01);
  EXPECT_EQ(r.get(0x07), 0x15);
  EXPECT_EQ(r.get(0x08), 0x02);
}

TEST(Rtc, SetClearsUpdateInterruptEnable) {
  Rig r;
  r.set(0x0b, 0x92);
  EXPECT_EQ(r.get(0x0b), 0x82);
}

TEST(Rtc, PeriodicInterruptAtTheRateFromRegisterA) {
  Rig r;
  r.set(0x0b, 0x42);  // PIE; register A is 0x26 = 1024 Hz
  EXPECT_EQ(r.rtc.next_deadline_ns(), 976'563u);
  r.at(976'562);
  EXPECT_FALSE(r.irq8.level);
  r.at(976'563);
  EXPECT_TRUE(r.irq8.level);
  EXPECT_EQ(r.rtc.next_deadline_ns(), std::nullopt);  // IRQ held until C is read
  EXPECT_EQ(r.get(0x0c), 0xc0);                       // IRQF | PF
  EXPECT_FALSE(r.irq8.level);
  EXPECT_EQ(r.get(0x0c), 0x00);  // read-to-clear
  EXPECT_EQ(r.rtc.next_deadline_ns(), 1'953'125u);
}

TEST(Rtc, RateSelectBits) {
  Rig r;
  r.set(0x0b, 0x42);
  r.set(0x0a, 0x2f);  // RS = 15: 2 Hz
  EXPECT_EQ(r.rtc.next_deadline_ns(), 500'000'000u);
  r.set(0x0a, 0x23);  // RS = 3: 8192 Hz
  EXPECT_EQ(r.rtc.next_deadline_ns(), 122'071u);
  r.set(0x0a, 0x21);  // RS = 1: 256 Hz
  EXPECT_EQ(r.rtc.next_deadline_ns(), 3'906'250u);
  r.set(0x0a, 0x20);  // RS = 0: none
  EXPECT_EQ(r.rtc.next_deadline_ns(), std::nullopt);
}

TEST(Rtc, IrqLineRisesAgainOnlyAfterRegisterCRead) {
  Rig r;
  r.set(0x0b, 0x42);
  r.at(10'000'000);  // ten periods
  EXPECT_EQ(r.irq8.rising_edges, 1);
  r.get(0x0c);
  r.at(11'000'000);
  EXPECT_EQ(r.irq8.rising_edges, 2);
}

TEST(Rtc, UpdateEndedInterruptEverySecond) {
  Rig r;
  r.set(0x0b, 0x12);
  EXPECT_EQ(r.rtc.next_deadline_ns(), kSec);
  r.at(kSec);
  EXPECT_TRUE(r.irq8.level);
  EXPECT_EQ(r.get(0x0c), 0xd0);  // IRQF | PF (always counted) | UF
  EXPECT_EQ(r.rtc.next_deadline_ns(), 2 * kSec);
}

TEST(Rtc, AlarmInterruptAtMatchingTime) {
  Rig r;
  r.set(0x01, 0x05);
  r.set(0x03, 0x00);
  r.set(0x05, 0x00);
  r.set(0x0b, 0x22);  // AIE
  EXPECT_EQ(r.rtc.next_deadline_ns(), 5 * kSec);
  r.at(4 * kSec);
  EXPECT_FALSE(r.irq8.level);
  r.at(5 * kSec);
  EXPECT_TRUE(r.irq8.level);
  EXPECT_EQ(r.get(0x0c) & 0xb0, 0xb0);  // IRQF | AF | UF
  r.set(0x03, 0xc0);                    // any minute
  r.set(0x05, 0xff);                    // any hour
  EXPECT_EQ(r.rtc.next_deadline_ns(), 65 * kSec);
}

TEST(Rtc, FlagsAreSetWithoutEnablesAndClearedByRead) {
  Rig r;
  r.clock.set(2 * kSec);
  EXPECT_EQ(r.get(0x0c), 0x50);  // PF | UF, no IRQF
  EXPECT_EQ(r.get(0x0c), 0x00);
  EXPECT_EQ(r.irq8.rising_edges, 0);
}

TEST(Rtc, RegisterDReportsValidRamAndTime) {
  Rig r;
  EXPECT_EQ(r.get(0x0d), 0x80);
  r.set(0x0d, 0x00);  // read-only
  EXPECT_EQ(r.get(0x0d), 0x80);
}

TEST(Rtc, NmiBitDoesNotSelectRegister) {
  Rig r;
  EXPECT_EQ(r.get(0x8a), 0x26);  // register A with NMI disabled
  r.set(0xc0, 0x77);
  EXPECT_EQ(r.get(0x40), 0x77);
  uint8_t v[1] = {0};
  r.rtc.read(0, v);
  EXPECT_EQ(v[0], 0xff);  // index port is write-only
}

TEST(Rtc, CmosMemorySizeBytes) {
  Rig r;
  r.rtc.set_memory_size(8ull << 20);
  EXPECT_EQ(r.get(0x15), 0x80);  // 640 KiB
  EXPECT_EQ(r.get(0x16), 0x02);
  EXPECT_EQ(r.get(0x17), 0x00);  // 7168 KiB
  EXPECT_EQ(r.get(0x18), 0x1c);
  EXPECT_EQ(r.get(0x30), 0x00);
  EXPECT_EQ(r.get(0x31), 0x1c);
  EXPECT_EQ(r.get(0x34), 0x00);
  r.rtc.set_memory_size(256ull << 20, 1ull << 32);
  EXPECT_EQ(r.get(0x17), 0xff);  // capped at 65535 KiB
  EXPECT_EQ(r.get(0x18), 0xff);
  EXPECT_EQ(r.get(0x34), 0x00);  // 240 MiB = 3840 x 64 KiB
  EXPECT_EQ(r.get(0x35), 0x0f);
  EXPECT_EQ(r.get(0x5b), 0x00);  // 4 GiB = 0x10000 x 64 KiB
  EXPECT_EQ(r.get(0x5c), 0x00);
  EXPECT_EQ(r.get(0x5d), 0x01);
  r.rtc.set_cmos(0x00, 0x42);  // a clock register: not RAM
  EXPECT_EQ(r.get(0x00), 0x00);
}

TEST(Rtc, DividerResetStopsTheClockAndFirstUpdateIsHalfASecondLater) {
  Rig r;
  r.set(0x0a, 0x76);  // divider in reset
  r.clock.set(5 * kSec);
  EXPECT_EQ(r.get(0x00), 0x00);
  EXPECT_FALSE(r.get(0x0a) & 0x80);
  r.set(0x0a, 0x26);
  r.clock.set(5 * kSec + kSec / 2 - 1);
  EXPECT_EQ(r.get(0x00), 0x00);
  r.clock.set(5 * kSec + kSec / 2);
  EXPECT_EQ(r.get(0x00), 0x01);
}

TEST(Rtc, CalendarRollsOverYearAndDayOfWeek) {
  Rig r(1230767999);  // 2008-12-31T23:59:59Z, a Wednesday
  EXPECT_EQ(r.get(0x06), 4);
  r.clock.set(kSec);
  EXPECT_EQ(r.get(0x09), 0x09);
  EXPECT_EQ(r.get(0x08), 0x01);
  EXPECT_EQ(r.get(0x07), 0x01);
  EXPECT_EQ(r.get(0x06), 5);
  Rig leap(951782399);  // 2000-02-28T23:59:59Z: 2000 is a leap year
  leap.clock.set(kSec);
  EXPECT_EQ(leap.get(0x08), 0x02);
  EXPECT_EQ(leap.get(0x07), 0x29);
}

TEST(Rtc, GuestDayOfWeekCountsOnIndependently) {
  Rig r;
  r.set(0x06, 0x01);  // the guest says Sunday
  r.clock.set(86400 * kSec);
  EXPECT_EQ(r.get(0x06), 0x02);
  r.clock.set(7 * 86400 * kSec);
  EXPECT_EQ(r.get(0x06), 0x01);
}

TEST(Rtc, SaveRestoreRoundTrip) {
  Rig a;
  a.set(0x0b, 0xc2);  // SET | PIE
  a.set(0x09, 0x24);
  a.set(0x0b, 0x42);
  a.set(0x50, 0xab);
  a.set(0x01, 0x07);
  a.at(3'300'000'000);
  Rig b;
  b.clock.set(a.clock.now_ns());
  b.rtc.restore(a.rtc.save());
  EXPECT_EQ(a.rtc.next_deadline_ns(), b.rtc.next_deadline_ns());
  for (uint8_t i : {0x00, 0x01, 0x04, 0x09, 0x0a, 0x0b, 0x0c, 0x50}) {
    EXPECT_EQ(a.get(i), b.get(i)) << int(i);
  }
  a.at(9 * kSec);
  b.at(9 * kSec);
  EXPECT_EQ(a.get(0x00), b.get(0x00));
  EXPECT_EQ(a.get(0x0c), b.get(0x0c));
}

TEST(Rtc, GarbageNeverCrashes) {
  Rig r;
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> buf(size_t{1} << (rng() % 4), static_cast<uint8_t>(rng()));
    if (rng() % 2) {
      r.rtc.write(rng() % 3, buf);
    } else {
      r.rtc.read(rng() % 3, buf);
    }
    r.clock.advance(rng() % 50'000'000);
    r.rtc.advance(r.clock.now_ns());
    r.rtc.next_deadline_ns();
  }
  // Impossible BCD written while SET: the clock still runs afterwards.
  r.set(0x0b, 0x82);
  for (uint8_t i : {0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32}) r.set(i, 0xff);
  r.set(0x0a, 0x26);
  r.set(0x0b, 0x02);
  uint8_t before = r.get(0x00);
  r.clock.advance(2 * kSec);
  EXPECT_NE(r.get(0x00), before);
  Rtc146818::State junk;
  junk.base.month = 0;
  junk.base.hour = 99;
  junk.index = 0xff;
  junk.first_update_ns = 0;
  r.rtc.restore(junk);
  EXPECT_EQ(r.get(0x08), 0x01);
}

}  // namespace
}  // namespace rrvm
