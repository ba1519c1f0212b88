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

TEST_F(Nic, BarSizingThroughConfigCycles) {
  uint8_t ones[4] = {0xff, 0xff, 0xff, 0xff}, v[4];
  nic.pci().config_write(PciConfig::kBar0, ones);
  nic.pci().config_read(PciConfig::kBar0, v);
  EXPECT_EQ(load_le(v), 0xffffff01u) << "256 bytes of I/O space";
  nic.pci().config_write(PciConfig::kBar0 + 4, ones);
  nic.pci().config_read(PciConfig::kBar0 + 4, v);
  EXPECT_EQ(load_le(v), 0xffffff00u) << "256 bytes of 32-bit memory";
  nic.pci().config_read(PciConfig::kRevision, v);
  EXPECT_EQ(load_le(v) >> 8, 0x020000u) << "Ethernet controller";
  nic.pci().config_read(PciConfig::kSubsystemVendor, v);
  EXPECT_EQ(load_le(v), 0x813910ecu);
}

TEST_F(Nic, ResetKeepsTheMacAndRestoresDefaults) {
  wr(Rtl8139::kImr, 0xffff, 2);
  wr(Rtl8139::kIdr0, 0, 4);
  EXPECT_EQ(rd(Rtl8139::kIdr0, 4), 0x12005452u) << "IDR is locked while 9346CR is";
  EXPECT_FALSE(warnings.empty());
  wr(Rtl8139::k9346Cr, 0xc0, 1);  // config write enable, as re(4) does
  wr(Rtl8139::kIdr0, 0x44332211, 4);
  wr(Rtl8139::k9346Cr, 0x00, 1);
  wr(Rtl8139::kMar0 + 7, 0x5a, 1);
  wr(Rtl8139::kCr, 0x1c, 1);
  EXPECT_EQ(rd(Rtl8139::kCr, 1), 0x01u) << "RST self-clears, RE/TE off, BUFE";
  EXPECT_EQ(rd(Rtl8139::kIdr0, 4), 0x44332211u) << "a software reset keeps IDR0-5";
  EXPECT_EQ(rd(Rtl8139::kMar0 + 7, 1), 0x5au) << "and MAR0-7";
  EXPECT_EQ(rd(Rtl8139::kImr, 2), 0u);
  EXPECT_EQ(rd(Rtl8139::kTcr, 4) & 0x7cc00000, 0x74800000u) << "8139C+ version bits";
  EXPECT_EQ(rd(Rtl8139::kTsd0, 4) & (1u << 13), 1u << 13) << "the host owns TSD0";
  EXPECT_EQ(rd(Rtl8139::kMsr, 1) & 0x0c, 0u) << "link ok, 100 Mb/s";
  EXPECT_EQ(rd(Rtl8139::kBmsr, 2) & 0x24, 0x24u) << "link up, autonegotiation complete";
  wr(Rtl8139::k9346Cr, 0x40, 1);  // auto-load: the EEPROM's MAC again
  EXPECT_EQ(rd(Rtl8139::kIdr0, 4), 0x12005452u);
  EXPECT_EQ(rd(Rtl8139::k9346Cr, 1), 0u) << "back to normal mode";
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

// ---- normal-mode ring ----

struct RingNic : Nic {
  RingNic() {
    wr(Rtl8139::kCr, 0x0c, 1);
    wr(Rtl8139::kRbstart, kRxBuf, 4);
  }
  void consume() { wr(Rtl8139::kCapr, uint16_t(rd(Rtl8139::kCbr, 2) - 16), 2); }
};

TEST_F(RingNic, PacketsSplitAtTheEndOfTheRingAndCaprFreesSpace) {
  wr(Rtl8139::kRcr, 0x02, 4);  // APM, 8K ring, WRAP clear
  auto f = frame(1500);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(nic.receive(f));
    consume();
  }
  ASSERT_EQ(rd(Rtl8139::kCbr, 2), 5 * 1508u);
  f[1499] = 0x5a;  // the last data byte lands after the wrap
  ASSERT_TRUE(nic.receive(f));
  EXPECT_EQ(rd(Rtl8139::kCbr, 2), (6 * 1508u) % 8192);
  uint8_t head[4];
  mem.read(kRxBuf + 5 * 1508, head);
  EXPECT_EQ(load_le({head + 2, 2}), 1504u) << "length includes the FCS";
  // 8192 - 7540 = 652 bytes fit before the end: header (4) + 648 data bytes.
  uint8_t b = 0;
  mem.read(kRxBuf + 1499 - 648, {&b, 1});
  EXPECT_EQ(b, 0x5a);
  EXPECT_EQ(get32(kRxBuf + 1500 - 648), ethernet_crc32(f)) << "the FCS follows, wrapped";
  EXPECT_EQ(mem.bytes()[kRxBuf + 8192], 0) << "nothing past the end of the ring";
}

TEST_F(RingNic, WrapBitRunsPastTheEndInsteadOfSplitting) {
  wr(Rtl8139::kRcr, 0x82, 4);  // APM, 8K ring, WRAP
  auto f = frame(1500);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(nic.receive(f));
    consume();
  }
  ASSERT_TRUE(nic.receive(f));
  EXPECT_EQ(get32(kRxBuf + 5 * 1508 + 4 + 1500), ethernet_crc32(f)) << "contiguous";
  EXPECT_EQ(rd(Rtl8139::kCbr, 2), (6 * 1508u) % 8192) << "CBR still wraps";
}

TEST_F(RingNic, FullRingOverflowsAndCountsMissedPackets) {
  wr(Rtl8139::kRcr, 0x02, 4);
  wr(Rtl8139::kImr, Rtl8139::kIsrRxOverflow, 2);
  auto f = frame(1500);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(nic.receive(f));  // the driver reads nothing
  EXPECT_FALSE(nic.receive(f));
  EXPECT_TRUE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrRxOverflow);
  EXPECT_TRUE(intx.level);
  EXPECT_EQ(rd(Rtl8139::kMpc, 4), 1u);
  wr(Rtl8139::kMpc, 0, 1);
  EXPECT_EQ(rd(Rtl8139::kMpc, 4), 0u) << "any write clears MPC";
  consume();
  EXPECT_TRUE(nic.receive(f));
}

TEST_F(RingNic, RingOutsideRamIsASystemError) {
  wr(Rtl8139::kRcr, 0x02, 4);
  wr(Rtl8139::kRbstart, uint32_t(kMem - 32), 4);
  auto before = mem.bytes();
  EXPECT_FALSE(nic.receive(frame(60)));
  EXPECT_EQ(rd(Rtl8139::kIsr, 2) & 0x8002, 0x8002u) << "RxErr + SystemErr";
  EXPECT_EQ(mem.bytes(), before);
  EXPECT_EQ(rd(Rtl8139::kCbr, 2), 0u);
}

// ---- normal-mode transmit ----

TEST_F(Nic, TransmitSlotsRejectBadSizesAndBuffers) {
  wr(Rtl8139::kCr, 0x04, 1);
  wr(Rtl8139::kTsad0, kBuf, 4);
  wr(Rtl8139::kTsd0, 0, 4);  // size 0
  EXPECT_TRUE(rd(Rtl8139::kTsd0, 4) & (1u << 30)) << "TABT";
  wr(Rtl8139::kTsd0, 0x1fff, 4);  // larger than 0x700
  wr(Rtl8139::kTsad0 + 8, uint32_t(kMem - 10), 4);
  wr(Rtl8139::kTsd0 + 8, 60, 4);  // crosses the end of RAM
  EXPECT_TRUE(sent.empty());
  EXPECT_TRUE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrTxErr);
  EXPECT_FALSE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrTxOk);
  EXPECT_EQ(rd(Rtl8139::kTsadSummary, 2) & 0x0055, 0x0055u) << "TABT0/2, OWN0/2";
  wr(Rtl8139::kTsd0 + 12, 60, 4);  // TSAD3 = 0: a fine buffer at address 0
  EXPECT_EQ(sent.size(), 1u);
  EXPECT_TRUE(rd(Rtl8139::kTsadSummary, 2) & (1u << 15)) << "TOK3";
}

// ---- C+ transmit ----

TEST_F(Nic, CplusTxOkInterruptsWhenUnmaskedAndIsrWriteClears) {
  cplus_up(Rtl8139::kIsrTxOk);
  descriptor(kTxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 60, kBuf);
  wr(Rtl8139::kTxPoll, 0x40, 1);
  EXPECT_EQ(rd(Rtl8139::kTxPoll, 1), 0u) << "the poll bit self-clears";
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(intx.level);
  EXPECT_FALSE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrTxDescUnavail)
      << "QEMU's model, which the seed's re(4) relies on, never raises it";
  wr(Rtl8139::kIsr, Rtl8139::kIsrRxOk, 2);  // a bit that is not set: no change
  EXPECT_TRUE(intx.level);
  wr(Rtl8139::kIsr, Rtl8139::kIsrTxOk, 2);
  EXPECT_FALSE(intx.level);
  // Nothing new to send: no TxOK.
  wr(Rtl8139::kTxPoll, 0x40, 1);
  EXPECT_EQ(rd(Rtl8139::kIsr, 2), 0u);
}

TEST_F(Nic, CplusBadFragmentsDropTheirFrameOnly) {
  cplus_up(0);
  descriptor(kTxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 0, kBuf);
  descriptor(kTxRing, 1, Rtl8139::kDescOwn | Rtl8139::kDescFs | 60, kMem - 20);
  descriptor(kTxRing, 2, Rtl8139::kDescOwn | Rtl8139::kDescLs | 60, kBuf);
  descriptor(kTxRing, 3, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 42, kBuf);
  wr(Rtl8139::kTxPoll, 0x40, 1);
  ASSERT_EQ(sent.size(), 1u) << "the zero-length and the out-of-RAM frames are dropped";
  EXPECT_EQ(sent[0].size(), 42u);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(get32(kTxRing + 16 * i) & Rtl8139::kDescOwn) << i;
  EXPECT_EQ(rd(Rtl8139::kIsr, 2) & 0x800c, 0x800cu) << "TxErr, SystemErr and TxOK";
  EXPECT_GE(warnings.size(), 2u);
}

TEST_F(Nic, EnablingTheTransmitterRestartsTheCplusRing) {
  cplus_up(0);
  descriptor(kTxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 60, kBuf);
  wr(Rtl8139::kTxPoll, 0x40, 1);
  descriptor(kTxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 61, kBuf);
  wr(Rtl8139::kCr, 0x0c, 1);  // rewriting TE=1 keeps the position: descriptor 1 is not ours
  wr(Rtl8139::kTxPoll, 0x40, 1);
  EXPECT_EQ(sent.size(), 1u);
  wr(Rtl8139::kCr, 0x08, 1);
  wr(Rtl8139::kCr, 0x0c, 1);  // 0 -> 1: back to descriptor 0
  wr(Rtl8139::kTxPoll, 0x40, 1);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].size(), 61u);
}

// ---- filters and C+ receive ----

TEST_F(Nic, MulticastHashSelectsOneMarBitAndPromiscuousTakesAll) {
  cplus_up(0);
  std::vector<uint8_t> f = frame(60);
  const uint8_t group[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
  std::copy(group, group + 6, f.begin());
  // The hash as Linux computes it: ether_crc (big-endian CRC-32) >> 26,
  // i.e. the bit-reversed, uncomplemented IEEE CRC.
  uint32_t le = ~ethernet_crc32(std::span(group, 6)), be = 0;
  for (int k = 0; k < 32; ++k) be |= ((le >> k) & 1) << (31 - k);
  int bit = int(be >> 26);
  for (int i = 0; i < 8; ++i) wr(uint8_t(Rtl8139::kMar0 + i), 0xff, 1);
  wr(uint8_t(Rtl8139::kMar0 + bit / 8), uint8_t(~(1 << (bit % 8))), 1);
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kRxBuf);
  EXPECT_FALSE(nic.receive(f)) << "every MAR bit but its own";
  for (int i = 0; i < 8; ++i) wr(uint8_t(Rtl8139::kMar0 + i), 0, 1);
  wr(uint8_t(Rtl8139::kMar0 + bit / 8), uint8_t(1 << (bit % 8)), 1);
  EXPECT_TRUE(nic.receive(f)) << "only its own MAR bit";
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kRxBuf);
  EXPECT_FALSE(nic.receive(frame(60, 0x02)));
  wr(Rtl8139::kRcr, 0x0f, 4);  // AAP
  EXPECT_TRUE(nic.receive(frame(60, 0x02))) << "all physical";
  EXPECT_FALSE(nic.receive(frame(10))) << "shorter than an Ethernet header";
}

TEST_F(Nic, CplusReceiveWalksTheRingAndRejectsSmallBuffers) {
  cplus_up(Rtl8139::kIsrRxErr);
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | 2048, kRxBuf);
  descriptor(kRxRing, 1, Rtl8139::kDescOwn | Rtl8139::kDescEor | 2048, kRxBuf + 0x1000);
  ASSERT_TRUE(nic.receive(frame(60)));
  ASSERT_TRUE(nic.receive(frame(100)));
  EXPECT_EQ(get32(kRxRing + 16) & 0x1fff, 104u) << "the second frame went to descriptor 1";
  descriptor(kRxRing, 0, Rtl8139::kDescOwn | 63, kRxBuf);  // EOR wrapped back to 0
  EXPECT_FALSE(nic.receive(frame(60))) << "60 + 4 FCS bytes do not fit in 63";
  EXPECT_TRUE(rd(Rtl8139::kIsr, 2) & Rtl8139::kIsrRxErr);
  EXPECT_TRUE(intx.level);
  EXPECT_TRUE(get32(kRxRing) & Rtl8139::kDescOwn) << "the descriptor stays the driver's";
}

// ---- the onboard timer ----

TEST_F(Nic, TimerIntBehindTctrWaitsForTheWrap) {
  clock.set(1'000'000);
  wr(Rtl8139::kTctr, 0, 4);
  clock.advance(1'000'000);  // TCTR = 33000, past 0x400
  wr(Rtl8139::kTimerInt, 0x400, 4);
  nic.advance(clock.now_ns());
  EXPECT_FALSE(nic.isr() & Rtl8139::kIsrTimeOut);
  EXPECT_EQ(*nic.next_deadline_ns(), 1'000'000 + ticks_to_ns(0x400 + (1ull << 32), 33'000'000));
}

TEST_F(Nic, TctrWriteAfterTxPollRearmsTheTimeout) {
  // re(4): TIMERINT = 0x400; each TxPoll is followed by a TCTR write.
  cplus_up(Rtl8139::kIsrTimeOut);
  wr(Rtl8139::kTimerInt, 0x400, 4);
  nic.advance(*nic.next_deadline_ns() + 10'000'000'000ull);  // very late: fires once
  EXPECT_TRUE(intx.level);
  wr(Rtl8139::kIsr, Rtl8139::kIsrTimeOut, 2);
  EXPECT_FALSE(intx.level);
  clock.set(20'000'000'000ull);
  nic.advance(clock.now_ns());
  EXPECT_FALSE(intx.level) << "no second expiry before TCTR wraps";
  wr(Rtl8139::kTctr, 1, 4);
  EXPECT_EQ(*nic.next_deadline_ns(), 20'000'000'000ull + 31031);  // 1024 ticks at 33 MHz
  nic.advance(20'000'000'000ull + 31030);
  EXPECT_FALSE(intx.level);
  nic.advance(20'000'000'000ull + 31031);
  EXPECT_TRUE(intx.level);
  EXPECT_EQ(rd(Rtl8139::kTctr, 4), 0u) << "the Clock has not moved since the reset";
}

TEST_F(Nic, TimerIntZeroDisablesTheTimeout) {
  wr(Rtl8139::kTimerInt, 0x400, 4);
  EXPECT_TRUE(nic.next_deadline_ns().has_value());
  wr(Rtl8139::kTimerInt, 0, 4);
  EXPECT_FALSE(nic.next_deadline_ns().has_value());
  nic.advance(1'000'000'000);
  EXPECT_EQ(nic.isr(), 0u);
}

TEST(Rtl8139Kvm84, TimerIntIsStoredButTheCounterNeverMoves) {
  ManualClock clock;
  VectorMemory mem(kMem);
  Rtl8139 nic(clock, mem, Rtl8139::Config{{}, /*timer_enabled=*/false});
  uint8_t v[4];
  store_le(v, 0x400);
  nic.write(Rtl8139::kTimerInt, v);
  clock.advance(5'000'000'000ull);
  nic.read(Rtl8139::kTimerInt, v);
  EXPECT_EQ(load_le(v), 0x400u);
  EXPECT_EQ(nic.tctr(clock.now_ns()), 0u);
  nic.advance(clock.now_ns());
  EXPECT_EQ(nic.isr(), 0u);
}

// ---- odd accesses ----

TEST_F(Nic, OddAccessesAreDoneByteByByteWithAWarning) {
  uint8_t q[8];
  store_le(q, 0x0000000100345000ull);
  nic.write(Rtl8139::kRxRingAddr, q);  // an 8-byte MMIO write
  EXPECT_EQ(rd(Rtl8139::kRxRingAddr, 4), 0x00345000u);
  EXPECT_EQ(rd(Rtl8139::kRxRingAddr + 4, 4), 1u);
  EXPECT_EQ(warnings.size(), 1u);
  wr(Rtl8139::kImr, 0x05, 2);
  uint8_t d[4];
  nic.read(Rtl8139::kImr + 1, d);  // IMR high, ISR, TCR low
  EXPECT_EQ(d[0], 0u);
  EXPECT_EQ(warnings.size(), 2u);
  nic.read(254, d);  // past the register space
  EXPECT_EQ(d[2], 0xff);
  nic.write(254, d);
  EXPECT_EQ(warnings.size(), 4u);
}

// ---- snapshots ----

TEST_F(Nic, RestoredDeviceContinuesWhereTheSavedOneWas) {
  cplus_up(Rtl8139::kIsrTxOk | Rtl8139::kIsrTimeOut);
  clock.set(1000);
  wr(Rtl8139::kTctr, 0, 4);
  wr(Rtl8139::kTimerInt, 0x400, 4);
  descriptor(kTxRing, 0, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 60, kBuf);
  wr(Rtl8139::kTxPoll, 0x40, 1);  // TxOK pending, ring at descriptor 1
  clock.advance(1'000'000);
  Rtl8139::State s = nic.save();

  Rtl8139 copy(clock, mem, Rtl8139::Config{});
  TestIrqLine line;
  copy.pci().connect_intx(&line);
  copy.restore(s);
  EXPECT_TRUE(line.level) << "restore drives INTx from ISR & IMR";
  copy.pci().restore(nic.pci().save());  // bus mastering; the wire stays as it is
  EXPECT_TRUE(line.level);
  EXPECT_EQ(copy.tctr(clock.now_ns()), 33000u);
  EXPECT_EQ(copy.next_deadline_ns(), nic.next_deadline_ns());
  std::vector<std::vector<uint8_t>> out;
  copy.set_tx_sink([&](std::span<const uint8_t> f) { out.emplace_back(f.begin(), f.end()); });
  descriptor(kTxRing, 1, Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | 70, kBuf);
  uint8_t poll = 0x40;
  copy.write(Rtl8139::kTxPoll, {&poll, 1});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].size(), 70u) << "descriptor 1, as saved";
  EXPECT_EQ(copy.save().cplus_tx_index, 2u);
  EXPECT_EQ(nic.save().cplus_tx_index, 1u) << "the two devices share nothing";
}

}  // namespace
}  // namespace rrvm
