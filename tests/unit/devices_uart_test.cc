// NS16550A behaviour from the National Semiconductor datasheet.
#include "devices/uart16550.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace rrvm {
namespace {

// Register offsets.
constexpr uint64_t kData = 0, kIer = 1, kIir = 2, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6,
                   kScr = 7;

struct Rig {
  StringSink sink;
  TestIrqLine irq;
  Uart16550 uart{sink, irq};

  void out(uint64_t reg, uint8_t v) {
    const uint8_t b[1] = {v};
    uart.write(reg, b);
  }
  uint8_t in(uint64_t reg) {
    uint8_t b[1] = {0};
    uart.read(reg, b);
    return b[0];
  }
  size_t receive(const std::string& s) {
    return uart.receive(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
};

TEST(Uart, TransmittedBytesGoToTheSink) {
  Rig r;
  r.out(kData, 'h');
  r.out(kData, 'i');
  EXPECT_EQ(r.sink.text, "hi");
  EXPECT_EQ(r.in(kLsr), 0x60);  // THRE | TEMT, nothing received
}

TEST(Uart, ResetState) {
  Rig r;
  EXPECT_EQ(r.in(kIer), 0x00);
  EXPECT_EQ(r.in(kIir), 0x01);  // no interrupt pending, FIFOs off
  EXPECT_EQ(r.in(kLcr), 0x00);
  EXPECT_EQ(r.in(kMcr), 0x00);
  EXPECT_EQ(r.in(kMsr)&0xf0, 0xb0);  // DCD, DSR, CTS from the host side
}

TEST(Uart, DivisorLatchIsBehindDlab) {
  Rig r;
  r.out(kLcr, 0x83);
  r.out(kData, 0x01);  // DLL: 115200 baud
  r.out(kIer, 0x00);   // DLM
  EXPECT_EQ(r.in(kData), 0x01);
  r.out(kLcr, 0x03);
  EXPECT_EQ(r.in(kIer), 0x00);  // IER again, untouched
  r.out(kData, 'x');            // THR again
  EXPECT_EQ(r.sink.text, "x");
  r.out(kLcr, 0x83);
  EXPECT_EQ(r.in(kData), 0x01);
}

TEST(Uart, ReceivedByteSetsDataReadyAndRaisesIrq) {
  Rig r;
  r.out(kIer, 0x01);
  r.out(kMcr, 0x08);  // OUT2: the PC's IRQ enable
  EXPECT_FALSE(r.irq.level);
  EXPECT_EQ(r.receive("x"), 1u);
  EXPECT_TRUE(r.irq.level);
  EXPECT_EQ(r.in(kIir), 0x04);
  EXPECT_EQ(r.in(kLsr)&0x01, 0x01);
  EXPECT_EQ(r.in(kData), 'x');
  EXPECT_EQ(r.in(kIir), 0x01);
  EXPECT_FALSE(r.irq.level);
  EXPECT_EQ(r.in(kLsr)&0x01, 0x00);
}

TEST(Uart, IrqIsGatedByOut2) {
  Rig r;
  r.out(kIer, 0x01);
  r.receive("x");
  EXPECT_EQ(r.in(kIir), 0x04);  // pending inside the chip...
  EXPECT_FALSE(r.irq.level);    // ...but the PC's IRQ driver is off
  r.out(kMcr, 0x08);
  EXPECT_TRUE(r.irq.level);
}

TEST(Uart, ThrEmptyInterruptOnEnableClearedByIirRead) {
  Rig r;
  r.out(kMcr, 0x08);
  r.out(kIer, 0x02);
  EXPECT_TRUE(r.irq.level);
  EXPECT_EQ(r.in(kIir), 0x02);
  EXPECT_FALSE(r.irq.level);
  EXPECT_EQ(r.in(kIir), 0x01);
  r.out(kData, 'a');  // sent at once: THR empty again
  EXPECT_EQ(r.in(kIir), 0x02);
}

TEST(Uart, PriorityLineStatusThenRxThenThrThenModem) {
  Rig r;
  r.out(kIer, 0x0f);
  r.out(kMcr, 0x10);  // loopback, to make modem status change
  r.in(kMsr);         // forget the change of entering loopback
  r.out(kMcr, 0x11);  // DTR -> DSR changes: DDSR
  r.receive("ab");    // dropped in loopback; use THR to loop bytes instead
  r.out(kData, 'a');
  r.out(kData, 'b');            // FIFO off: overrun
  EXPECT_EQ(r.in(kIir), 0x06);  // line status
  r.in(kLsr);
  EXPECT_EQ(r.in(kIir), 0x04);  // received data
  r.in(kData);
  EXPECT_EQ(r.in(kIir), 0x02);  // THR empty
  EXPECT_EQ(r.in(kIir), 0x00);  // modem status
  EXPECT_EQ(r.in(kMsr)&0x0f, 0x02);
  EXPECT_EQ(r.in(kIir), 0x01);
}

TEST(Uart, FifoTriggerLevelAndCharacterTimeout) {
  Rig r;
  r.out(kFcr, 0xc7);  // enable, clear both, trigger 14
  r.out(kIer, 0x01);
  EXPECT_EQ(r.in(kIir), 0xc1);  // FIFOs enabled, nothing pending
  r.receive("abc");
  EXPECT_EQ(r.in(kIir), 0xcc);  // below the trigger: timeout indication
  r.receive("defghijklmn");
  EXPECT_EQ(r.in(kIir), 0xc4);  // 14 bytes: trigger level reached
  std::string got;
  while (r.in(kLsr)&0x01) got.push_back(static_cast<char>(r.in(kData)));
  EXPECT_EQ(got, "abcdefghijklmn");
}

TEST(Uart, FifoOverflowSetsOverrunAndDropsNewBytes) {
  Rig r;
  r.out(kFcr, 0x01);
  EXPECT_EQ(r.uart.rx_free(), 16u);
  EXPECT_EQ(r.receive("0123456789abcdefXYZ"), 16u);
  EXPECT_EQ(r.uart.rx_free(), 0u);
  EXPECT_EQ(r.in(kLsr), 0x63);  // DR | OE | THRE | TEMT
  EXPECT_EQ(r.in(kLsr), 0x61);  // OE cleared by the read
  std::string got;
  while (r.in(kLsr)&0x01) got.push_back(static_cast<char>(r.in(kData)));
  EXPECT_EQ(got, "0123456789abcdef");
}

TEST(Uart, HoldingRegisterOverrunKeepsNewestByte) {
  Rig r;  // FIFOs off: 16450 mode
  EXPECT_EQ(r.receive("ab"), 1u);
  EXPECT_EQ(r.in(kLsr)&0x03, 0x03);
  EXPECT_EQ(r.in(kData), 'b');
}

TEST(Uart, FcrClearsReceiveFifo) {
  Rig r;
  r.out(kFcr, 0x01);
  r.receive("abc");
  r.out(kFcr, 0x03);
  EXPECT_EQ(r.in(kLsr)&0x01, 0);
  r.receive("z");
  r.out(kFcr, 0x00);  // disabling the FIFOs clears them too
  EXPECT_EQ(r.in(kLsr)&0x01, 0);
  EXPECT_EQ(r.in(kIir)&0xc0, 0);
}

TEST(Uart, LoopbackReturnsTransmittedBytesAndGatesIrq) {
  Rig r;
  r.out(kIer, 0x01);
  r.out(kMcr, 0x18);  // loopback + OUT2
  r.out(kData, 'A');
  EXPECT_EQ(r.sink.text, "");  // nothing on the wire
  EXPECT_EQ(r.in(kIir), 0x04);
  EXPECT_FALSE(r.irq.level);  // OUT2 pin forced inactive in loopback
  EXPECT_EQ(r.in(kData), 'A');
  EXPECT_EQ(r.receive("q"), 0u);  // serial input disconnected
  EXPECT_EQ(r.in(kLsr)&0x01, 0);
}

TEST(Uart, LoopbackConnectsModemControlToModemStatus) {
  Rig r;
  r.out(kMcr, 0x10);
  r.in(kMsr);
  r.out(kMcr, 0x1f);            // DTR, RTS, OUT1, OUT2
  EXPECT_EQ(r.in(kMsr), 0xfb);  // DCD RI DSR CTS + DDCD DDSR DCTS (RI rose: no TERI)
  r.out(kMcr, 0x1b);            // OUT1 off: RI falls
  EXPECT_EQ(r.in(kMsr), 0xb4);  // TERI
  EXPECT_EQ(r.in(kMsr), 0xb0);  // deltas cleared by the read
}

TEST(Uart, ScratchRegisterHoldsAByte) {
  Rig r;
  r.out(kScr, 0x5a);
  EXPECT_EQ(r.in(kScr), 0x5a);
}

TEST(Uart, WideAccessIsSplitAcrossRegisters) {
  Rig r;
  const uint8_t w[2] = {'k', 0x03};  // THR, IER
  r.uart.write(kData, w);
  EXPECT_EQ(r.sink.text, "k");
  EXPECT_EQ(r.in(kIer), 0x03);
  uint8_t b[4] = {};
  r.uart.read(6, b);  // MSR, SCR, then past the end
  EXPECT_EQ(b[2], 0xff);
  EXPECT_EQ(b[3], 0xff);
}

TEST(Uart, SaveRestoreRoundTrip) {
  Rig a;
  a.out(kFcr, 0x41);  // FIFO, trigger 4
  a.out(kIer, 0x05);
  a.out(kMcr, 0x0b);
  a.out(kScr, 0x99);
  a.receive("hello");
  a.in(kData);
  Rig b;
  b.uart.restore(a.uart.save());
  EXPECT_EQ(a.in(kIir), b.in(kIir));
  EXPECT_EQ(a.in(kScr), b.in(kScr));
  std::string sa, sb;
  while (a.in(kLsr)&0x01) sa.push_back(static_cast<char>(a.in(kData)));
  while (b.in(kLsr)&0x01) sb.push_back(static_cast<char>(b.in(kData)));
  EXPECT_EQ(sa, "ello");
  EXPECT_EQ(sa, sb);
}

TEST(Uart, GarbageNeverCrashes) {
  Rig r;
  std::mt19937 rng(5);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> buf(size_t{1} << (rng() % 4), static_cast<uint8_t>(rng()));
    if (rng() % 2) {
      r.uart.write(rng() % 10, buf);
    } else {
      r.uart.read(rng() % 10, buf);
    }
    if (rng() % 16 == 0) r.uart.receive(buf);
    EXPECT_LE(r.uart.rx_free(), 16u);
  }
  Uart16550::State junk;
  junk.rx_head = 200;
  junk.rx_count = 200;
  junk.fcr = 0xff;
  r.uart.restore(junk);
  EXPECT_EQ(r.uart.rx_free(), 0u);
  for (int i = 0; i < 16; ++i) r.in(kData);
  EXPECT_EQ(r.in(kLsr)&0x01, 0);
}

}  // namespace
}  // namespace rrvm
