// 8254 behaviour from the Intel 8254 datasheet, timed with a ManualClock.
#include "devices/pit.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace rrvm {
namespace {

constexpr uint64_t kHz = 1'193'182;
constexpr uint64_t kCtrl = 3;

struct Rig {
  ManualClock clock;
  TestIrqLine irq0;
  Pit8254 pit{clock, irq0};

  void out(uint64_t port, uint8_t v) {
    const uint8_t b[1] = {v};
    pit.write(port, b);
  }
  uint8_t in(uint64_t port) {
    uint8_t b[1] = {0};
    pit.read(port, b);
    return b[0];
  }
  void load(uint64_t ch, uint16_t count) {
    out(ch, static_cast<uint8_t>(count));
    out(ch, static_cast<uint8_t>(count >> 8));
  }
  uint16_t read16(uint64_t ch) {
    uint8_t lo = in(ch);
    return static_cast<uint16_t>(lo | in(ch) << 8);
  }
  uint16_t latched(uint64_t ch) {
    out(kCtrl, static_cast<uint8_t>(ch << 6));  // counter latch command
    return read16(ch);
  }
  uint8_t port61() {
    uint8_t b[1] = {0};
    pit.port61().read(0, b);
    return b[0];
  }
  void set_port61(uint8_t v) {
    const uint8_t b[1] = {v};
    pit.port61().write(0, b);
  }
  // Moves the clock to the start of tick `t` and lets the PIT catch up.
  void to_tick(uint64_t t) {
    clock.set(ticks_to_ns(t, kHz));
    pit.advance(clock.now_ns());
  }
  uint8_t status(uint64_t ch) {
    out(kCtrl, static_cast<uint8_t>(0xe0 | (2 << ch)));  // read-back: status only
    return in(ch);
  }
};

TEST(Pit, Mode2ReloadsAndPulsesIrqEveryPeriod) {
  Rig r;
  r.out(kCtrl, 0x34);  // channel 0, LSB then MSB, mode 2, binary
  r.load(0, 1193);     // ~1000 Hz
  ASSERT_TRUE(r.pit.next_deadline_ns().has_value());
  uint64_t first = *r.pit.next_deadline_ns();
  EXPECT_NEAR(static_cast<double>(first), 999'847.0, 1.0);
  r.clock.set(first - 1);
  r.pit.advance(r.clock.now_ns());
  EXPECT_EQ(r.irq0.rising_edges, 0);
  for (int i = 1; i <= 1000; ++i) {
    uint64_t d = *r.pit.next_deadline_ns();
    r.clock.set(d);
    r.pit.advance(d);
    EXPECT_EQ(r.irq0.rising_edges, i);
  }
  // 1000 periods of 1193 ticks: 0.99985 s.
  EXPECT_NEAR(static_cast<double>(r.clock.now_ns()), 999'847'000.0, 1'000.0);
  EXPECT_FALSE(r.irq0.level);  // edges are pulses
}

TEST(Pit, CounterReadHalfwayReadsHalfTheCount) {
  Rig r;
  r.out(kCtrl, 0x34);
  r.load(0, 10000);
  r.clock.set(ticks_to_ns(10000, kHz) / 2);
  uint16_t v = r.latched(0);
  EXPECT_NEAR(v, 5000, 2);
}

TEST(Pit, LatchFreezesTheValueUntilRead) {
  Rig r;
  r.out(kCtrl, 0x34);
  r.load(0, 50000);
  r.to_tick(1000);
  r.out(kCtrl, 0x00);  // latch channel 0
  r.to_tick(3000);
  r.out(kCtrl, 0x00);  // a second latch before reading is ignored
  EXPECT_EQ(r.read16(0), 49000);
  EXPECT_EQ(r.read16(0), 47000);  // unlatched: live count
}

TEST(Pit, ReadBackStatusByteFormat) {
  Rig r;
  r.out(kCtrl, 0x36);            // channel 0, LSB/MSB, mode 3, binary
  EXPECT_EQ(r.status(0), 0xf6);  // OUT high, null count, RW=11, M=011
  r.load(0, 1000);
  EXPECT_EQ(r.status(0), 0xb6);  // count loaded
  r.out(kCtrl, 0xb0);            // channel 2, mode 0
  EXPECT_EQ(r.status(2), 0x70);  // mode 0: OUT low after the control word
  r.out(kCtrl, 0x59);            // channel 1, LSB only, mode 4, BCD
  EXPECT_EQ(r.status(1), 0xd9);
}

TEST(Pit, ReadBackLatchesStatusThenCount) {
  Rig r;
  r.out(kCtrl, 0x34);
  r.load(0, 0x1234);
  r.to_tick(0x34);
  r.out(kCtrl, 0xc2);  // read-back: count and status of channel 0
  r.to_tick(0x100);
  EXPECT_EQ(r.in(0), 0xb4);  // status first
  EXPECT_EQ(r.read16(0), 0x1200);
}

TEST(Pit, Mode0RaisesIrqOnceAtTerminalCount) {
  Rig r;
  r.out(kCtrl, 0x30);
  r.load(0, 100);
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(100, kHz));
  r.to_tick(99);
  EXPECT_EQ(r.irq0.rising_edges, 0);
  EXPECT_FALSE(r.status(0) & 0x80);
  r.to_tick(100);
  EXPECT_EQ(r.irq0.rising_edges, 1);
  EXPECT_TRUE(r.status(0) & 0x80);  // OUT stays high
  EXPECT_EQ(r.pit.next_deadline_ns(), std::nullopt);
  r.to_tick(70000);
  EXPECT_EQ(r.irq0.rising_edges, 1);
  EXPECT_EQ(r.latched(0), (100 + 65536 - 70000 % 65536) % 65536);  // counter wraps on
}

TEST(Pit, CountZeroMeans65536) {
  Rig r;
  r.out(kCtrl, 0x34);
  r.load(0, 0);
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(65536, kHz));  // 54.9 ms
  r.to_tick(1);
  EXPECT_EQ(r.latched(0), 65535);
}

TEST(Pit, ManyMissedPeriodsRaiseOneEdge) {
  Rig r;
  r.out(kCtrl, 0x34);
  r.load(0, 1193);
  r.clock.set(50'000'000);  // 50 periods late
  r.pit.advance(r.clock.now_ns());
  EXPECT_EQ(r.irq0.rising_edges, 1);
  ASSERT_TRUE(r.pit.next_deadline_ns().has_value());
  EXPECT_GT(*r.pit.next_deadline_ns(), r.clock.now_ns());
  EXPECT_LE(*r.pit.next_deadline_ns(), r.clock.now_ns() + 1'000'000);
}

TEST(Pit, NewCountInMode2TakesEffectAtNextReload) {
  Rig r;
  r.out(kCtrl, 0x34);
  r.load(0, 1000);
  r.to_tick(300);
  r.load(0, 500);
  EXPECT_EQ(r.status(0) & 0x40, 0x40);  // null count until it is loaded
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(1000, kHz));
  r.to_tick(1000);
  EXPECT_EQ(r.status(0) & 0x40, 0);
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(1500, kHz));
  r.to_tick(1100);
  EXPECT_EQ(r.latched(0), 400);
}

TEST(Pit, ControlWordStopsChannel) {
  Rig r;
  r.out(kCtrl, 0x34);
  r.load(0, 1000);
  r.out(kCtrl, 0x34);  // reprogram, no count yet
  EXPECT_EQ(r.pit.next_deadline_ns(), std::nullopt);
}

TEST(Pit, LsbOnlyAndMsbOnlyAccess) {
  Rig r;
  r.out(kCtrl, 0x10);  // channel 0, LSB only, mode 0
  r.out(0, 0x50);
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(0x50, kHz));
  EXPECT_EQ(r.in(0), 0x50);
  EXPECT_EQ(r.in(0), 0x50);  // every read is the LSB
  r.out(kCtrl, 0x24);        // MSB only, mode 2
  r.out(0, 0x02);
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(0x200, kHz));
  EXPECT_EQ(r.in(0), 0x02);
}

TEST(Pit, Mode0FirstByteStopsCounting) {
  Rig r;
  r.out(kCtrl, 0x30);
  r.load(0, 1000);
  r.to_tick(200);
  r.out(0, 0x10);  // first byte of a new count
  EXPECT_EQ(r.pit.next_deadline_ns(), std::nullopt);
  r.to_tick(5000);
  EXPECT_EQ(r.irq0.rising_edges, 0);
  r.out(0, 0x00);  // count 16 from here
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(5016, kHz));
}

TEST(Pit, BcdCountsInDecimal) {
  Rig r;
  r.out(kCtrl, 0x35);  // mode 2, BCD
  r.load(0, 0x1000);   // 1000
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(1000, kHz));
  r.to_tick(250);
  EXPECT_EQ(r.latched(0), 0x0750);
  r.out(kCtrl, 0x31);  // mode 0, BCD, count 0 = 10000
  r.load(0, 0);
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(250 + 10000, kHz));
}

TEST(Pit, Mode4StrobesAfterCountPlusOne) {
  Rig r;
  r.out(kCtrl, 0x38);
  r.load(0, 10);
  EXPECT_EQ(r.pit.next_deadline_ns(), ticks_to_ns(11, kHz));
}

TEST(Pit, Port61GatesChannel2AndShowsItsOutput) {
  Rig r;
  r.set_port61(0x01);  // gate on, speaker off (Linux PIT calibration)
  r.out(kCtrl, 0xb0);  // channel 2, mode 0
  r.load(2, 1000);
  EXPECT_EQ(r.port61() & 0x20, 0);
  r.to_tick(999);
  EXPECT_EQ(r.port61() & 0x20, 0);
  r.to_tick(1000);
  EXPECT_EQ(r.port61() & 0x20, 0x20);
  EXPECT_EQ(r.irq0.rising_edges, 0);  // channel 2 is not IRQ0
  EXPECT_EQ(r.port61() & 0x0f, 0x01);
}

TEST(Pit, Channel2GateLowHoldsMode0Count) {
  Rig r;
  r.set_port61(0x01);
  r.out(kCtrl, 0xb0);
  r.load(2, 1000);
  r.to_tick(300);
  r.set_port61(0x00);
  r.to_tick(800);
  EXPECT_EQ(r.latched(2), 700);
  r.set_port61(0x01);
  r.to_tick(1000);
  EXPECT_EQ(r.latched(2), 500);
}

TEST(Pit, Mode2WithGateLowDoesNotCountAndRisingGateReloads) {
  Rig r;
  r.out(kCtrl, 0xb4);  // channel 2, mode 2; gate is low at power-on
  r.load(2, 100);
  r.to_tick(1000);
  EXPECT_EQ(r.latched(2), 100);
  r.set_port61(0x01);
  r.to_tick(1030);
  EXPECT_EQ(r.latched(2), 70);
}

TEST(Pit, Mode3SquareWaveOnOut2) {
  Rig r;
  r.set_port61(0x01);
  r.out(kCtrl, 0xb6);
  r.load(2, 1000);
  r.to_tick(10);
  EXPECT_TRUE(r.port61() & 0x20);
  r.to_tick(499);
  EXPECT_TRUE(r.port61() & 0x20);
  r.to_tick(500);
  EXPECT_FALSE(r.port61() & 0x20);
  r.to_tick(999);
  EXPECT_FALSE(r.port61() & 0x20);
  r.to_tick(1000);
  EXPECT_TRUE(r.port61() & 0x20);
  r.to_tick(1250);
  EXPECT_EQ(r.latched(2), 500);  // counts down by two
}

TEST(Pit, Mode1IsTriggeredByTheGate) {
  Rig r;
  r.out(kCtrl, 0xb2);  // channel 2, mode 1
  r.load(2, 100);
  r.to_tick(50);
  EXPECT_TRUE(r.port61() & 0x20);  // waiting for a trigger: OUT high
  r.set_port61(0x01);              // trigger
  EXPECT_FALSE(r.port61() & 0x20);
  r.to_tick(149);
  EXPECT_FALSE(r.port61() & 0x20);
  r.to_tick(150);
  EXPECT_TRUE(r.port61() & 0x20);
}

TEST(Pit, RefreshBitTogglesOnEveryRead) {
  Rig r;
  uint8_t a = r.port61(), b = r.port61();
  EXPECT_NE(a & 0x10, b & 0x10);
}

TEST(Pit, SaveRestoreRoundTrip) {
  Rig a;
  a.out(kCtrl, 0x34);
  a.load(0, 1193);
  a.set_port61(0x01);
  a.out(kCtrl, 0xb0);
  a.load(2, 5000);
  a.to_tick(3000);
  a.out(kCtrl, 0x00);  // a latch in flight
  a.out(kCtrl, 0x36);
  a.out(0, 0x00);  // first byte of a two-byte count in flight
  Rig b;
  b.clock.set(a.clock.now_ns());
  b.pit.restore(a.pit.save());
  int edges_before = a.irq0.rising_edges;
  EXPECT_EQ(a.pit.next_deadline_ns(), b.pit.next_deadline_ns());
  a.out(0, 0x10);
  b.out(0, 0x10);
  for (uint64_t t : {3100u, 4000u, 9000u}) {
    a.to_tick(t);
    b.to_tick(t);
    EXPECT_EQ(a.latched(0), b.latched(0));
    EXPECT_EQ(a.latched(2), b.latched(2));
    EXPECT_EQ(a.port61() & 0x20, b.port61() & 0x20);
    EXPECT_EQ(a.irq0.rising_edges - edges_before, b.irq0.rising_edges);
  }
}

TEST(Pit, GarbageNeverCrashes) {
  Rig r;
  std::mt19937 rng(99);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> buf(size_t{1} << (rng() % 4), static_cast<uint8_t>(rng()));
    uint64_t off = rng() % 6;
    if (rng() % 2) {
      r.pit.write(off, buf);
    } else {
      r.pit.read(off, buf);
    }
    if (rng() % 8 == 0) r.set_port61(static_cast<uint8_t>(rng()));
    r.clock.advance(rng() % 100'000);
    r.pit.advance(r.clock.now_ns());
    auto d = r.pit.next_deadline_ns();
    if (d) {
      EXPECT_GT(*d, r.clock.now_ns());
    }
  }
  uint8_t ctl[1] = {0};
  r.pit.read(kCtrl, ctl);
  EXPECT_EQ(ctl[0], 0xff);  // the control register is write-only
  Pit8254::State junk;
  for (auto& c : junk.ch) {
    c.mode_bits = 0xff;
    c.access = 0;
    c.reload = 0;
    c.loaded = c.counting = true;
    c.start_tick = ~0ull;
  }
  r.pit.restore(junk);
  r.pit.advance(r.clock.now_ns());
  r.pit.next_deadline_ns();
  // Restored fields are brought back into range: mode 7 reads as written,
  // access 0 (the latch command) becomes LSB/MSB.
  EXPECT_EQ(r.status(1) & 0x3e, 0x3e);
}

}  // namespace
}  // namespace rrvm
