// The board's wiring: ISA IRQs reach both the 8259 and the IOAPIC pin the
// layout names, the LAPIC takes over from the PIC once enabled, ACPI S5
// stops the machine, and the firmware tables land where an OS looks.
#include "vmm/pc_board.h"

#include <gtest/gtest.h>

#include <cstring>

namespace rrvm {
namespace {

struct BoardFixture : ::testing::Test {
  MachineConfig cfg;
  GuestRam ram{16 << 20};
  ManualClock clock;
  StringSink serial;
  PcBoard pc{cfg, ram, clock, serial};

  void mmio_write32(uint64_t addr, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    ASSERT_TRUE(pc.board().mmio.write(addr, b));
  }
  void out8(uint16_t port, uint8_t v) { ASSERT_TRUE(pc.board().pio.write(port, {&v, 1})); }
  void out16(uint16_t port, uint16_t v) {
    uint8_t b[2] = {uint8_t(v), uint8_t(v >> 8)};
    ASSERT_TRUE(pc.board().pio.write(port, b));
  }
  bool has_signature(uint64_t from, uint64_t to, const char* sig) {
    size_t n = std::strlen(sig);
    std::vector<uint8_t> area(to - from);
    if (!ram.read(from, area)) return false;
    for (size_t i = 0; i + n <= area.size(); i += 16)
      if (std::memcmp(area.data() + i, sig, n) == 0) return true;
    return false;
  }
};

TEST_F(BoardFixture, PitInterruptReachesTheLapicThroughIoapicPin2) {
  const uint64_t ioapic = pc.layout().ioapic_address, lapic = pc.layout().lapic_address;
  mmio_write32(lapic + 0xF0, 0x1FF);   // SVR: software-enable
  mmio_write32(ioapic, 0x10 + 2 * 2);  // IOREGSEL: redirection entry 2, low half
  mmio_write32(ioapic + 0x10, 0x31);   // vector 0x31, fixed, edge, unmasked
  out8(0x43, 0x34);                    // PIT channel 0, mode 2
  out8(0x40, 100);
  out8(0x40, 0);
  auto due = pc.board().next_deadline();
  ASSERT_TRUE(due.has_value());
  clock.set(*due);
  pc.board().advance_timers(*due);
  ASSERT_TRUE(pc.board().interrupts->has_interrupt());
  EXPECT_EQ(pc.board().interrupts->acknowledge(), std::optional<uint8_t>(0x31));
}

TEST_F(BoardFixture, AcpiS5PowersOffWithStatusZero) {
  out16(pc.layout().pm1a_cnt_port, (AcpiPm::kSlpTypS5 << AcpiPm::kSlpTypShift) | AcpiPm::kSlpEn);
  ASSERT_TRUE(pc.board().stop.has_value());
  EXPECT_EQ(pc.board().stop->reason, StopReason::kPowerOff);
  EXPECT_EQ(pc.board().stop->status, 0);
}

TEST_F(BoardFixture, FirmwareTablesFollowTheConfiguration) {
  pc.setup_firmware(cfg, ram);
  EXPECT_TRUE(has_signature(0xF0000, 0x100000, "_MP_"));
  EXPECT_TRUE(has_signature(0xE0000, 0x100000, "RSD PTR "));
  EXPECT_NE(pc.bios_tables().dsdt_addr, 0u);

  MachineConfig bare = cfg;
  bare.mptable = MpTableVariant::none;
  bare.acpi = bare.acpi_pic = false;
  GuestRam ram2{16 << 20};
  PcBoard pc2{bare, ram2, clock, serial};
  pc2.setup_firmware(bare, ram2);
  std::vector<uint8_t> bios(0x20000);
  ASSERT_TRUE(ram2.read(0xE0000, bios));
  for (size_t i = 0; i + 4 <= bios.size(); i += 16) {
    ASSERT_NE(std::memcmp(bios.data() + i, "_MP_", 4), 0) << "at " << std::hex << 0xE0000 + i;
    ASSERT_NE(std::memcmp(bios.data() + i, "RSD ", 4), 0) << "at " << std::hex << 0xE0000 + i;
  }
}

}  // namespace
}  // namespace rrvm
