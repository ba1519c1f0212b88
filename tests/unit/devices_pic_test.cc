// 8259A pair behaviour from the Intel 8259A datasheet and the PC/AT wiring.
#include "devices/pic.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace rrvm {
namespace {

void out(IoDevice& dev, uint64_t offset, uint8_t v) {
  const uint8_t b[1] = {v};
  dev.write(offset, b);
}
uint8_t in(IoDevice& dev, uint64_t offset) {
  uint8_t b[1] = {0};
  dev.read(offset, b);
  return b[0];
}

// The usual PC initialization (Linux init_8259A): ICW1 edge + ICW4, vector
// base, cascade on IR2 / slave ID 2, 8086 mode; then everything unmasked.
void init_pair(PicPair& pic, uint8_t icw4_master = 0x01, uint8_t icw4_slave = 0x01) {
  out(pic.master_io(), 0, 0x11);
  out(pic.master_io(), 1, 0x20);
  out(pic.master_io(), 1, 0x04);
  out(pic.master_io(), 1, icw4_master);
  out(pic.slave_io(), 0, 0x11);
  out(pic.slave_io(), 1, 0x28);
  out(pic.slave_io(), 1, 0x02);
  out(pic.slave_io(), 1, icw4_slave);
  out(pic.master_io(), 1, 0x00);
  out(pic.slave_io(), 1, 0x00);
}

void eoi_master(PicPair& pic) {
  out(pic.master_io(), 0, 0x20);
}
void eoi_slave(PicPair& pic) {
  out(pic.slave_io(), 0, 0x20);
}
uint8_t master_isr(PicPair& pic) {
  out(pic.master_io(), 0, 0x0b);
  return in(pic.master_io(), 0);
}
uint8_t slave_isr(PicPair& pic) {
  out(pic.slave_io(), 0, 0x0b);
  return in(pic.slave_io(), 0);
}

TEST(Pic, PowerOnStateIsWhatABiosLeaves) {
  PicPair pic;
  EXPECT_EQ(in(pic.master_io(), 1), 0xfb);  // only the cascade unmasked
  EXPECT_EQ(in(pic.slave_io(), 1), 0xff);
  pic.irq(0).pulse();
  EXPECT_FALSE(pic.has_interrupt());
  out(pic.master_io(), 1, 0xfa);  // unmask IRQ0: the latched edge is delivered
  ASSERT_TRUE(pic.has_interrupt());
  EXPECT_EQ(pic.acknowledge(), 0x08);
}

TEST(Pic, InitSequenceProgramsVectorBase) {
  PicPair pic;
  init_pair(pic);
  pic.irq(1).pulse();
  ASSERT_TRUE(pic.has_interrupt());
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_FALSE(pic.has_interrupt());
}

TEST(Pic, NoRequestMeansNoInta) {
  PicPair pic;
  init_pair(pic);
  EXPECT_FALSE(pic.has_interrupt());
  EXPECT_EQ(pic.acknowledge(), std::nullopt);
}

TEST(Pic, LowerIrNumberHasPriorityAndInServiceBlocksLower) {
  PicPair pic;
  init_pair(pic);
  pic.irq(5).pulse();
  pic.irq(3).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x23);
  EXPECT_FALSE(pic.has_interrupt());  // IR5 waits for the EOI of IR3
  eoi_master(pic);
  ASSERT_TRUE(pic.has_interrupt());
  EXPECT_EQ(pic.acknowledge(), 0x25);
}

TEST(Pic, LevelInServiceBlocksItsOwnNewRequest) {
  PicPair pic;
  init_pair(pic);
  pic.irq(4).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x24);
  pic.irq(4).pulse();  // latched in IRR, but IR4 is in service
  EXPECT_FALSE(pic.has_interrupt());
  eoi_master(pic);
  EXPECT_EQ(pic.acknowledge(), 0x24);
}

TEST(Pic, HigherPriorityNestsOverInService) {
  PicPair pic;
  init_pair(pic);
  pic.irq(5).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x25);
  pic.irq(1).pulse();
  ASSERT_TRUE(pic.has_interrupt());
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_EQ(master_isr(pic), 0x22);
  eoi_master(pic);  // non-specific EOI clears the highest: IR1
  EXPECT_EQ(master_isr(pic), 0x20);
}

TEST(Pic, MaskHoldsLatchedRequestUntilUnmasked) {
  PicPair pic;
  init_pair(pic);
  out(pic.master_io(), 1, 0x10);
  pic.irq(4).pulse();
  EXPECT_FALSE(pic.has_interrupt());
  out(pic.master_io(), 0, 0x0a);  // OCW3: read IRR
  EXPECT_EQ(in(pic.master_io(), 0), 0x10);
  out(pic.master_io(), 1, 0x00);
  EXPECT_EQ(pic.acknowledge(), 0x24);
}

TEST(Pic, SpecificEoiClearsTheNamedLevel) {
  PicPair pic;
  init_pair(pic);
  pic.irq(3).pulse();
  pic.acknowledge();
  pic.irq(1).pulse();
  pic.acknowledge();
  out(pic.master_io(), 0, 0x63);  // specific EOI, level 3
  EXPECT_EQ(master_isr(pic), 0x02);
}

TEST(Pic, EdgeInputNeedsANewRisingEdge) {
  PicPair pic;
  init_pair(pic);
  pic.irq(6).set_level(true);
  EXPECT_EQ(pic.acknowledge(), 0x26);
  eoi_master(pic);
  EXPECT_FALSE(pic.has_interrupt());  // still high, but no new edge
  pic.irq(6).set_level(false);
  pic.irq(6).set_level(true);
  EXPECT_TRUE(pic.has_interrupt());
}

TEST(Pic, ElcrLevelInputRequestsWhileHighAndHardwiredBitsStayEdge) {
  PicPair pic;
  init_pair(pic);
  out(pic.elcr_io(), 0, 0xff);
  out(pic.elcr_io(), 1, 0xff);
  EXPECT_EQ(in(pic.elcr_io(), 0), 0xf8);  // IRQ0-2 are edge on the PC
  EXPECT_EQ(in(pic.elcr_io(), 1), 0xde);  // IRQ8, IRQ13 too
  pic.irq(5).set_level(true);
  EXPECT_EQ(pic.acknowledge(), 0x25);
  eoi_master(pic);
  EXPECT_TRUE(pic.has_interrupt());  // level still high: requests again
  pic.irq(5).set_level(false);
  EXPECT_FALSE(pic.has_interrupt());
}

TEST(Pic, BoardCanSetElcrForPciIrqs) {
  PicPair pic;
  pic.set_elcr(0xffff);
  EXPECT_EQ(in(pic.elcr_io(), 0), 0xf8);
  EXPECT_EQ(in(pic.elcr_io(), 1), 0xde);
  pic.set_elcr(0x0e20);  // IRQ5, 9, 10, 11
  EXPECT_EQ(in(pic.elcr_io(), 0), 0x20);
  EXPECT_EQ(in(pic.elcr_io(), 1), 0x0e);
}

TEST(Pic, LtimMakesAllInputsLevelTriggered) {
  PicPair pic;
  out(pic.master_io(), 0, 0x19);  // ICW1 with LTIM
  out(pic.master_io(), 1, 0x20);
  out(pic.master_io(), 1, 0x04);
  out(pic.master_io(), 1, 0x01);
  pic.irq(7).pulse();  // a pulse that is gone by INTA time does not request
  EXPECT_FALSE(pic.has_interrupt());
  pic.irq(7).set_level(true);
  EXPECT_EQ(pic.acknowledge(), 0x27);
}

TEST(Pic, SlaveRequestArrivesThroughCascade) {
  PicPair pic;
  init_pair(pic);
  pic.irq(12).pulse();
  ASSERT_TRUE(pic.has_interrupt());
  EXPECT_EQ(pic.acknowledge(), 0x2c);
  EXPECT_EQ(master_isr(pic), 0x04);
  EXPECT_EQ(slave_isr(pic), 0x10);
  eoi_slave(pic);
  eoi_master(pic);
  EXPECT_EQ(master_isr(pic), 0);
  EXPECT_EQ(slave_isr(pic), 0);
}

TEST(Pic, VanishedSlaveRequestGivesSpuriousIrq15) {
  PicPair pic;
  init_pair(pic);
  out(pic.elcr_io(), 1, 0x04);  // IRQ10 level-triggered
  pic.irq(10).set_level(true);  // master latches the edge on IR2
  pic.irq(10).set_level(false);
  ASSERT_TRUE(pic.has_interrupt());
  EXPECT_EQ(pic.acknowledge(), 0x2f);  // slave's IR7
  EXPECT_EQ(slave_isr(pic), 0);        // not in service on the slave
  EXPECT_EQ(master_isr(pic), 0x04);    // but the master needs its EOI
}

TEST(Pic, Irq2IsRedirectedToIrq9) {
  PicPair pic;
  init_pair(pic);
  EXPECT_EQ(&pic.irq(2), &pic.irq(9));
  pic.irq(2).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x29);
}

TEST(Pic, AutoEoiLeavesNothingInService) {
  PicPair pic;
  init_pair(pic, 0x03);  // ICW4: 8086 + AEOI
  pic.irq(1).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x21);
  EXPECT_EQ(master_isr(pic), 0);
  pic.irq(6).pulse();  // lower priority, yet not blocked
  EXPECT_EQ(pic.acknowledge(), 0x26);
}

TEST(Pic, RotateOnNonSpecificEoiMakesServicedLevelLowest) {
  PicPair pic;
  init_pair(pic);
  pic.irq(3).pulse();
  pic.acknowledge();
  out(pic.master_io(), 0, 0xa0);  // rotate on non-specific EOI
  pic.irq(3).pulse();
  pic.irq(5).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x25);  // IR3 is now the lowest priority
}

TEST(Pic, SetPriorityCommandRotatesOrder) {
  PicPair pic;
  init_pair(pic);
  out(pic.master_io(), 0, 0xc4);  // IR4 lowest: order 5 6 7 0 1 2 3 4
  pic.irq(0).pulse();
  pic.irq(6).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x26);
}

TEST(Pic, RotateInAutoEoiMode) {
  PicPair pic;
  init_pair(pic, 0x03);
  out(pic.master_io(), 0, 0x80);  // rotate in AEOI mode (set)
  pic.irq(1).pulse();
  pic.acknowledge();
  pic.irq(1).pulse();
  pic.irq(4).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x24);  // IR1 went to the bottom
}

TEST(Pic, PollCommandActsAsAcknowledge) {
  PicPair pic;
  init_pair(pic);
  out(pic.master_io(), 1, 0xff);  // polling works with INT unused
  out(pic.master_io(), 0, 0x0c);
  EXPECT_EQ(in(pic.master_io(), 0) & 0x80, 0);  // nothing pending
  pic.irq(5).pulse();
  out(pic.master_io(), 1, 0x00);
  out(pic.master_io(), 0, 0x0c);
  EXPECT_EQ(in(pic.master_io(), 1), 0x85);  // poll word on either port
  EXPECT_EQ(master_isr(pic), 0x20);
  EXPECT_EQ(in(pic.master_io(), 1), 0x00);  // next read is IMR again
}

TEST(Pic, SpecialMaskModeLetsLowerLevelsIn) {
  PicPair pic;
  init_pair(pic);
  pic.irq(3).pulse();
  pic.acknowledge();
  out(pic.master_io(), 1, 0x08);  // mask the level in service
  out(pic.master_io(), 0, 0x68);  // OCW3: set special mask mode
  pic.irq(5).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x25);
  out(pic.master_io(), 0, 0x48);  // reset special mask mode
  pic.irq(6).pulse();
  EXPECT_FALSE(pic.has_interrupt());  // IR3 and IR5 in service block IR6
}

TEST(Pic, SpecialFullyNestedAdmitsHigherSlaveLevel) {
  PicPair plain, sfnm;
  init_pair(plain);
  init_pair(sfnm, 0x11);  // master ICW4: SFNM
  for (PicPair* pic : {&plain, &sfnm}) {
    pic->irq(12).pulse();
    EXPECT_EQ(pic->acknowledge(), 0x2c);
    pic->irq(9).pulse();  // higher priority on the same slave
  }
  EXPECT_FALSE(plain.has_interrupt());
  ASSERT_TRUE(sfnm.has_interrupt());
  EXPECT_EQ(sfnm.acknowledge(), 0x29);
}

TEST(Pic, Icw1ClearsMaskAndResetsEdgeSense) {
  PicPair pic;
  init_pair(pic);
  out(pic.master_io(), 1, 0xff);
  pic.irq(4).set_level(true);  // latched, masked
  out(pic.master_io(), 0, 0x11);
  EXPECT_EQ(in(pic.master_io(), 1), 0x00);  // IMR cleared by ICW1
  out(pic.master_io(), 1, 0x40);
  out(pic.master_io(), 1, 0x04);
  out(pic.master_io(), 1, 0x01);
  EXPECT_FALSE(pic.has_interrupt());  // the old edge is forgotten
  pic.irq(4).set_level(false);
  pic.irq(4).set_level(true);
  EXPECT_EQ(pic.acknowledge(), 0x44);
}

TEST(Pic, SingleModeSkipsIcw3AndNoIcw4MeansOperational) {
  PicPair pic;
  out(pic.master_io(), 0, 0x12);  // SNGL, no IC4
  out(pic.master_io(), 1, 0x50);  // ICW2, then done
  out(pic.master_io(), 1, 0xfd);  // OCW1
  EXPECT_EQ(in(pic.master_io(), 1), 0xfd);
  pic.irq(1).pulse();
  EXPECT_EQ(pic.acknowledge(), 0x51);
}

TEST(Pic, DataWriteBeforeIcw1IsAMask) {
  PicPair pic;
  out(pic.slave_io(), 1, 0x5a);  // out-of-order "ICW2": just OCW1
  EXPECT_EQ(in(pic.slave_io(), 1), 0x5a);
}

TEST(Pic, WideAccessIsSplitIntoConsecutivePorts) {
  PicPair pic;
  init_pair(pic);
  const uint8_t w[2] = {0x0b, 0xa5};  // OCW3 read ISR, then OCW1
  pic.master_io().write(0, w);
  pic.irq(0).pulse();  // masked by 0xa5? bit 0 set: yes
  EXPECT_FALSE(pic.has_interrupt());
  uint8_t r[4] = {0, 0, 0, 0};
  pic.master_io().read(0, r);
  EXPECT_EQ(r[0], 0x00);  // ISR
  EXPECT_EQ(r[1], 0xa5);  // IMR
  EXPECT_EQ(r[2], 0xff);  // beyond the 2-port range
  EXPECT_EQ(r[3], 0xff);
}

TEST(Pic, SaveRestoreRoundTrip) {
  PicPair a;
  init_pair(a);
  out(a.elcr_io(), 1, 0x08);
  out(a.master_io(), 1, 0x10);
  a.irq(3).pulse();
  a.acknowledge();
  a.irq(4).pulse();
  a.irq(11).set_level(true);
  a.irq(6).pulse();
  PicPair b;
  b.restore(a.save());
  EXPECT_EQ(in(b.elcr_io(), 1), 0x08);
  EXPECT_EQ(in(b.master_io(), 1), 0x10);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(a.has_interrupt(), b.has_interrupt());
    EXPECT_EQ(a.acknowledge(), b.acknowledge());
    eoi_master(a);
    eoi_master(b);
  }
}

TEST(Pic, GarbageNeverCrashesAndStaysConsistent) {
  PicPair pic;
  std::mt19937 rng(1234);
  IoDevice* views[3] = {&pic.master_io(), &pic.slave_io(), &pic.elcr_io()};
  for (int i = 0; i < 20000; ++i) {
    IoDevice& v = *views[rng() % 3];
    std::vector<uint8_t> buf(size_t{1} << (rng() % 4), static_cast<uint8_t>(rng()));
    if (rng() % 2) {
      v.write(rng() % 4, buf);
    } else {
      v.read(rng() % 4, buf);
    }
    pic.irq(static_cast<int>(rng() % 16)).set_level(rng() % 2);
    if (pic.has_interrupt()) {
      EXPECT_TRUE(pic.acknowledge().has_value());
    } else {
      EXPECT_EQ(pic.acknowledge(), std::nullopt);
    }
  }
  Pic8259::State junk;
  junk.init_step = 9;
  junk.lowest_priority = 200;
  pic.restore({junk, junk});
  pic.irq(1).pulse();
  out(pic.master_io(), 1, 0x00);  // init_step 9 is not an ICW step: OCW1
  EXPECT_EQ(in(pic.master_io(), 1), 0x00);
}

}  // namespace
}  // namespace rrvm
