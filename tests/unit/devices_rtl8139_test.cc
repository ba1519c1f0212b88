// RTL8139C+ model: PCI identity, EEPROM, C+ and normal-mode TX/RX, filters,
// the onboard timer (TCTR/TimerInt), ISR/IMR and INTx, and DMA that never
// leaves guest RAM (this test also runs under ASan in CI).
#include "devices/rtl8139.h"

#include <gtest/gtest.h>

namespace rrvm {
namespace {

constexpr uint64_t kMem = 1 << 20;
constexpr uint64_t kTxRing = 0x1000, kRxRing = 0x2000, kBuf = 0x10000, kRxBuf = 0x20000;

struct Nic : ::testing::Test {
  ManualClock clock;
  VectorMemory mem{kMem};
  std::vector<std::string> warnings;
  Rtl8139 nic{clock, mem, Rtl8139::Config{},
              [this](const std::string& w) { warnings.push_back(w); }};
  TestIrqLine intx;
  std::vector<std::vector<uint8_t>> sent;

  Nic() {
    nic.pci().connect_intx(&intx);
    uint8_t cmd[2] = {PciConfig::kCmdIo | PciConfig::kCmdBusMaster, 0};
    nic.pci().config_write(PciConfig::kCommand, cmd);
    nic.set_tx_sink([this](std::span<const uint8_t> f) { sent.emplace_back(f.begin(), f.end()); });
  }
  uint32_t rd(uint8_t off, size_t size) {
    uint8_t b[4] = {};
    nic.read(off, {b, size});
    return uint32_t(load_le({b, size}));
  }
  void wr(uint8_t off, uint32_t v, size_t size) {
    uint8_t b[4];
    store_le({b, size}, v);
    nic.write(off, {b, size});
  }
  void put32(uint64_t gpa, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    mem.write(gpa, b);
  }
  void put64(uint64_t gpa, uint64_t v) {
    uint8_t b[8];
    store_le(b, v);
    mem.write(gpa, b);
  }
  uint32_t get32(uint64_t gpa) {
    uint8_t b[4];
    mem.read(gpa, b);
    return uint32_t(load_le(b));
  }
  void descriptor(uint64_t ring, int i, uint32_t cmd, uint64_t buf) {
    put32(ring + 16 * i, cmd);
    put32(ring + 16 * i + 4, 0);
    put64(ring + 16 * i + 8, buf);
  }
  // C+ mode the way re(4) sets it up.
  void cplus_up(uint16_t imr) {
    wr(Rtl8139::kCplusCmd, 3, 2);
    wr(Rtl8139::kTsad0, kTxRing, 4);
    wr(Rtl8139::kTsad0 + 4, 0, 4);
    wr(Rtl8139::kRxRingAddr, kRxRing, 4);
    wr(Rtl8139::kRxRingAddr + 4, 0, 4);
    wr(Rtl8139::kCr, 0x0c, 1);
    wr(Rtl8139::kRcr, 0x0e, 4);  // physical match, multicast, broadcast
    wr(Rtl8139::kImr, imr, 2);
  }
  std::vector<uint8_t> frame(size_t len, uint8_t dst0 = 0x52) {
    std::vector<uint8_t> f(len, 0xab);
    const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    std::copy(mac, mac + 6, f.begin());
    f[0] = dst0;
    return f;
  }
};

TEST_F(Nic, PciIdentityAndBarSizes) {
  uint8_t id[4];
  nic.pci().config_read(0, id);
  EXPECT_EQ(load_le(id), 0x813910ecu);
  EXPECT_EQ(nic.pci().read8(PciConfig::kRevision), 0x20);
  EXPECT_EQ(nic.pci().bar_size(0), 256u);
  EXPECT_EQ(nic.pci().bar_kind(0), PciConfig::BarKind::kIo);
  EXPECT_EQ(nic.pci().bar_kind(1), PciConfig::BarKind::kMem32);
  EXPECT_EQ(nic.pci().read8(PciConfig::kInterruptPin), 1);
}

TEST_F(Nic, ResetGivesTheMacAndTheCplusVersion) {
  wr(Rtl8139::kIdr0, 0, 4);
  wr(Rtl8139::kCr, 0x10, 1);
  EXPECT_EQ(rd(Rtl8139::kCr, 1) & 0x10, 0u) << "reset completes at once";
  EXPECT_EQ(rd(Rtl8139::kIdr0, 4), 0x12005452u) << "52:54:00:12 little-endian";
  EXPECT_EQ(rd(Rtl8139::kTcr, 4) & 0x7cc00000, 0x74800000u & 0x7cc00000);
  EXPECT_EQ(rd(Rtl8139::kIsr, 2), 0u);
}

TEST_F(Nic, EepromReadsTheMacByBitBanging) {
  auto eeprom_word = [&](int addr) {
    auto pins = [&](int cs, int sk, int di) {
      wr(Rtl8139::k9346Cr, 0x80 | cs << 3 | sk << 2 | di << 1, 1);
    };
    pins(1, 0, 0);
    uint16_t cmd = uint16_t(0x6 << 6 | addr);  // start bit, READ (10), address
    for (int b = 8; b >= 0; --b) {
      int di = (cmd >> b) & 1;
      pins(1, 0, di);
      pins(1, 1, di);
    }
    uint16_t v = 0;
    for (int b = 0; b < 16; ++b) {
      pins(1, 0, 0);
      pins(1, 1, 0);
      v = uint16_t(v << 1 | (rd(Rtl8139::k9346Cr, 1) & 1));
    }
    pins(0, 0, 0);
    return v;
  };
  EXPECT_EQ(eeprom_word(0), 0x8129);
  EXPECT_EQ(eeprom_word(7), 0x5452);
  EXPECT_EQ(eeprom_word(8), 0x1200);
  EXPECT_EQ(eeprom_word(9), 0x5634);
}

TEST_F(Nic, CplusTransmitGathersFragmentsAndReleasesDescriptors) {
  cplus_up(0);  // TxOK masked, as NetBSD's re(4) does
  std::vector<uint8_t> a(20, 1), b(44, 2);
  mem.write(kBuf, a);
  mem.write(kBuf + 0x100, b);
  descriptor(kTxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescFs | 20, kBuf);
  descriptor(kTxRing, 1, Rtl8139::kDescOwn | Rtl8139::kDescLs | Rtl8139::kDescEor | 44,
             kBuf + 0x100);
  wr(Rtl8139::kTxPoll, 0x40, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].size(), 64u);
  EXPECT_EQ(sent[0][0], 1);
  EXPECT_EQ(sent[0][63], 2);
  EXPECT_FALSE(get32(kTxRing) & Rtl8139::kDescOwn);
  EXPECT_FALSE(get32(kTxRing + 16) & Rtl8139::kDescOwn);
  EXPECT_TRUE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrTxOk) << "set even while masked";
  EXPECT_FALSE(intx.level) << "masked in IMR: no interrupt";
  // EOR wrapped the ring: the next frame comes from descriptor 0 again.
  descriptor(kTxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 60, kBuf);
  wr(Rtl8139::kTxPoll, 0x40, 1);
  EXPECT_EQ(sent.size(), 2u);
}

TEST_F(Nic, CplusReceiveWritesFrameAndFcsAndInterrupts) {
  cplus_up(Rtl8139::kIsrRxOk);
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kRxBuf);
  auto f = frame(60);
  ASSERT_TRUE(nic.receive(f));
  uint32_t cmd = get32(kRxRing);
  EXPECT_FALSE(cmd & Rtl8139::kDescOwn);
  EXPECT_EQ(cmd & 0x1fff, 64u) << "length includes the 4 FCS bytes";
  EXPECT_TRUE(cmd & Rtl8139::kDescFs);
  EXPECT_TRUE(cmd & Rtl8139::kDescLs);
  EXPECT_TRUE(cmd & Rtl8139::kDescEor) << "EOR is kept";
  std::vector<uint8_t> got(64);
  mem.read(kRxBuf, got);
  EXPECT_TRUE(std::equal(f.begin(), f.end(), got.begin()));
  EXPECT_EQ(get32(kRxBuf + 60), ethernet_crc32(f));
  EXPECT_TRUE(intx.level);
  wr(Rtl8139::kIsr, Rtl8139::kIsrRxOk, 2);  // write 1 to clear
  EXPECT_FALSE(intx.level);
  // The only descriptor is the guest's no more: the next frame is missed.
  EXPECT_FALSE(nic.receive(f));
  EXPECT_TRUE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrRxOverflow);
  EXPECT_EQ(rd(Rtl8139::kMpc, 4), 1u);
}

TEST_F(Nic, ReceiveFiltersByAddress) {
  cplus_up(0);
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kRxBuf);
  EXPECT_FALSE(nic.receive(frame(60, 0x02))) << "another station's unicast";
  EXPECT_FALSE(nic.receive(frame(60, 0x01))) << "multicast with an empty MAR hash";
  auto bcast = frame(60);
  std::fill(bcast.begin(), bcast.begin() + 6, 0xff);
  EXPECT_TRUE(nic.receive(bcast)) << "broadcast with AB";
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kRxBuf);
  for (int i = 0; i < 8; ++i) wr(uint8_t(Rtl8139::kMar0 + i), 0xff, 1);
  EXPECT_TRUE(nic.receive(frame(60, 0x01))) << "multicast with every hash bit set";
  EXPECT_EQ(rd(Rtl8139::kMpc, 4), 0u) << "filtered frames are not missed frames";
}

TEST_F(Nic, NormalModeTransmitAndReceiveRing) {
  wr(Rtl8139::kCr, 0x0c, 1);
  wr(Rtl8139::kRcr, 0x0a, 4);  // physical match + broadcast, 8K ring, no WRAP
  wr(Rtl8139::kRbstart, kRxBuf, 4);
  std::vector<uint8_t> out(60, 7);
  mem.write(kBuf, out);
  wr(Rtl8139::kTsad0 + 4, kBuf, 4);  // slot 1
  wr(Rtl8139::kTsd0 + 4, 60, 4);     // OWN clear: transmit
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], out);
  EXPECT_TRUE(rd(Rtl8139::kTsd0 + 4, 4) & (1u << 15)) << "TOK";
  EXPECT_TRUE(rd(Rtl8139::kCr, 1) & 1) << "BUFE: nothing received yet";
  ASSERT_TRUE(nic.receive(frame(60)));
  EXPECT_EQ(get32(kRxBuf) & 0xffff, 0x4001u) << "ROK + physical address match";
  EXPECT_EQ(get32(kRxBuf) >> 16, 64u);
  EXPECT_EQ(rd(Rtl8139::kCbr, 2), 68u) << "header + frame + FCS, dword aligned";
  EXPECT_FALSE(rd(Rtl8139::kCr, 1) & 1);
}

TEST_F(Nic, TctrCountsAt33MHzAndAnyWriteResetsIt) {
  clock.set(5'000'000);
  wr(Rtl8139::kTctr, 1, 4);
  clock.set(6'000'000);
  EXPECT_EQ(rd(Rtl8139::kTctr, 4), 33000u);
  wr(Rtl8139::kTctr, 0x1234, 1);
  EXPECT_EQ(rd(Rtl8139::kTctr, 4), 0u);
}

TEST_F(Nic, TimerIntRaisesTimeOutAtTheExactDeadline) {
  cplus_up(Rtl8139::kIsrTimeOut);
  clock.set(1'000'000);
  wr(Rtl8139::kTctr, 0, 4);
  wr(Rtl8139::kTimerInt, 0x400, 4);  // re(4)'s value: 1024 ticks, 31 us
  auto due = nic.next_deadline_ns();
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, 1'000'000 + ticks_to_ns(0x400, 33'000'000));
  nic.advance(*due - 1);
  EXPECT_FALSE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrTimeOut);
  nic.advance(*due);
  EXPECT_TRUE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrTimeOut);
  EXPECT_TRUE(intx.level);
  EXPECT_GT(*nic.next_deadline_ns(), *due + 100'000'000'000ull) << "next only after a wrap";
}

TEST(Rtl8139Kvm84, WithoutTheTimerTctrReadsZeroAndNothingFires) {
  ManualClock clock;
  VectorMemory mem(kMem);
  Rtl8139 nic(clock, mem, Rtl8139::Config{{}, /*timer_enabled=*/false});
  uint8_t v[4];
  store_le(v, 0x400);
  nic.write(Rtl8139::kTimerInt, v);
  nic.write(Rtl8139::kTctr, v);
  clock.set(1'000'000'000);
  nic.advance(clock.now_ns());
  nic.read(Rtl8139::kTctr, v);
  EXPECT_EQ(load_le(v), 0u);
  EXPECT_FALSE(nic.next_deadline_ns().has_value());
  EXPECT_FALSE(nic.isr() & Rtl8139::kIsrTimeOut);
}

TEST_F(Nic, DmaOutsideGuestRamSetsErrorBitsAndTouchesNothing) {
  cplus_up(0);
  wr(Rtl8139::kTsad0, uint32_t(kMem - 8), 4);  // the ring's first descriptor crosses the end
  wr(Rtl8139::kTxPoll, 0x40, 1);
  EXPECT_TRUE(sent.empty());
  EXPECT_TRUE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrTxErr);
  EXPECT_FALSE(warnings.empty());

  // A buffer address past the end of RAM, and one that crosses it.
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kMem + 0x1000);
  std::vector<uint8_t> before = mem.bytes();
  EXPECT_FALSE(nic.receive(frame(60)));
  EXPECT_EQ(mem.bytes(), before);
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kMem - 16);
  before = mem.bytes();
  EXPECT_FALSE(nic.receive(frame(60)));
  EXPECT_TRUE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrRxErr);
  EXPECT_EQ(mem.bytes(), before) << "nothing written anywhere";

  // Huge descriptor lengths are bounded, not trusted.
  descriptor(kTxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 0xffff, 0);
  wr(Rtl8139::kTsad0, kTxRing, 4);
  wr(Rtl8139::kTxPoll, 0x40, 1);
  EXPECT_TRUE(sent.empty());
}

TEST_F(Nic, NoDmaWithoutBusMastering) {
  cplus_up(0);
  uint8_t cmd[2] = {PciConfig::kCmdIo, 0};
  nic.pci().config_write(PciConfig::kCommand, cmd);
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kRxBuf);
  EXPECT_FALSE(nic.receive(frame(60)));
  EXPECT_EQ(get32(kRxBuf), 0u);
}

TEST_F(Nic, StateRoundTrips) {
  cplus_up(Rtl8139::kIsrRxOk);
  clock.set(777);
  wr(Rtl8139::kTimerInt, 0x400, 4);
  Rtl8139::State s = nic.save();
  wr(Rtl8139::kCr, 0x10, 1);  // reset
  nic.restore(s);
  EXPECT_EQ(rd(Rtl8139::kImr, 2), Rtl8139::kIsrRxOk);
  EXPECT_EQ(rd(Rtl8139::kTimerInt, 4), 0x400u);
  EXPECT_EQ(nic.register_name(Rtl8139::kTctr + 2), "TCTR");
}

}  // namespace
}  // namespace rrvm
