// The board's wiring: ISA IRQs reach both the 8259 and the IOAPIC pin the
// layout names, the LAPIC takes over from the PIC once enabled, ACPI S5
// stops the machine, the firmware tables land where an OS looks, fw_cfg
// describes the machine, pc-testdev is there only when asked for, the
// HPET's timers reach the CPU, and the xAPIC page follows IA32_APIC_BASE.
#include "vmm/pc_board.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "firmware/e820.h"

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
  uint8_t in8(uint16_t port) {
    uint8_t v = 0;
    EXPECT_TRUE(pc.board().pio.read(port, {&v, 1}));
    return v;
  }
  std::optional<uint32_t> mmio_read32(PcBoard& board, uint64_t addr) {
    uint8_t b[4];
    if (!board.board().mmio.read(addr, b)) return std::nullopt;
    return static_cast<uint32_t>(load_le(b));
  }
  // fw_cfg the way kvm-unit-tests reads it: select, then bytes from 0x511.
  std::vector<uint8_t> fw_cfg_item(uint16_t key, size_t n) {
    out16(0x510, key);
    std::vector<uint8_t> v;
    for (size_t i = 0; i < n; ++i) v.push_back(in8(0x511));
    return v;
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

TEST_F(BoardFixture, FwCfgDescribesTheMachine) {
  EXPECT_EQ(fw_cfg_item(0x0000, 4), (std::vector<uint8_t>{'Q', 'E', 'M', 'U'}));
  EXPECT_EQ(fw_cfg_item(0x0005, 2), (std::vector<uint8_t>{1, 0}));                    // NB_CPUS
  EXPECT_EQ(fw_cfg_item(0x0003, 8), (std::vector<uint8_t>{0, 0, 0, 1, 0, 0, 0, 0}));  // 16 MiB
  EXPECT_EQ(fw_cfg_item(0x0015, 1), (std::vector<uint8_t>{0}));  // empty command line
  std::vector<uint8_t> e820 = e820_bytes(build_e820(16 << 20));
  EXPECT_EQ(fw_cfg_item(0x0020, e820.size()), e820) << "etc/e820, the only file";
  MachineConfig with_cmdline = cfg;
  with_cmdline.cmdline = "nox2apic";
  GuestRam ram2{16 << 20};
  PcBoard pc2{with_cmdline, ram2, clock, serial};
  EXPECT_EQ(pc2.fw_cfg().item(0x0015).size(), 9u);
}

TEST_F(BoardFixture, PcTestdevOnlyWithTheOption) {
  uint8_t one = 1;
  EXPECT_EQ(pc.testdev(), nullptr);
  EXPECT_FALSE(pc.board().pio.write(0x2000, {&one, 1}));
  EXPECT_FALSE(pc.board().pio.write(0xE0, {&one, 1}));
  EXPECT_FALSE(mmio_read32(pc, 0xFF000000));
  MachineConfig on = cfg;
  on.set("pc-testdev", "on");
  auto pairs = on.to_pairs();
  EXPECT_NE(std::find(pairs.begin(), pairs.end(),
                      std::make_pair(std::string("pc-testdev"), std::string("on"))),
            pairs.end());
  GuestRam ram2{16 << 20};
  PcBoard pc2{on, ram2, clock, serial};
  ASSERT_NE(pc2.testdev(), nullptr);
  EXPECT_TRUE(pc2.board().pio.write(0xE0, {&one, 1}));
  EXPECT_EQ(mmio_read32(pc2, 0xFF00FFFC), 0u);
  EXPECT_THROW(on.set("pc-testdev", "maybe"), std::invalid_argument);
}

// ioapic.c: set_irq_line(0x0e, 1) with pin 14 programmed reaches the CPU;
// an NMI entry on pin 15 reaches the CPU's NMI input.
TEST_F(BoardFixture, PcTestdevLinesReachTheCpuThroughTheIoapic) {
  MachineConfig on = cfg;
  on.pc_testdev = true;
  GuestRam ram2{16 << 20};
  PcBoard pc2{on, ram2, clock, serial};
  auto w = [&](uint64_t addr, uint32_t v) {
    uint8_t b[4];
    store_le(b, v);
    ASSERT_TRUE(pc2.board().mmio.write(addr, b));
  };
  const uint64_t ioapic = pc2.layout().ioapic_address;
  w(pc2.layout().lapic_address + 0xF0, 0x1FF);
  w(ioapic, 0x10 + 2 * 14);
  w(ioapic + 0x10, 0x76);  // vector 0x76, fixed, edge
  w(ioapic, 0x10 + 2 * 15);
  w(ioapic + 0x10, 0x400);  // NMI
  uint8_t high = 1, low = 0;
  ASSERT_TRUE(pc2.board().pio.write(0x2000 + 14, {&high, 1}));
  ASSERT_TRUE(pc2.board().pio.write(0x2000 + 14, {&low, 1}));
  EXPECT_EQ(pc2.board().interrupts->acknowledge(), std::optional<uint8_t>(0x76));
  EXPECT_FALSE(pc2.board().interrupts->nmi_pending());
  ASSERT_TRUE(pc2.board().pio.write(0x2000 + 15, {&high, 1}));
  EXPECT_TRUE(pc2.board().interrupts->take_nmi());
  EXPECT_FALSE(pc2.board().interrupts->take_nmi());
}

TEST_F(BoardFixture, HpetAtFed00000UnlessOff) {
  EXPECT_EQ(mmio_read32(pc, 0xFED00000), 0x8086A201u);  // GCAP_ID: LegacyReplacement capable
  EXPECT_EQ(mmio_read32(pc, 0xFED00100 + 4), 0x00F00000u) << "INT_ROUTE_CAP: IOAPIC pins 20-23";
  ASSERT_NE(pc.hpet(), nullptr);
  MachineConfig off = cfg;
  off.set("hpet", "off");
  GuestRam ram2{16 << 20};
  PcBoard pc2{off, ram2, clock, serial};
  EXPECT_EQ(pc2.hpet(), nullptr);
  EXPECT_FALSE(mmio_read32(pc2, 0xFED00000));
  EXPECT_FALSE(pc2.layout().hpet);
}

// An HPET timer routed to IOAPIC pin 20, and in LegacyReplacement mode to
// IRQ0's pin 2 in place of the PIT, raises its vector at the CPU.
TEST_F(BoardFixture, HpetTimersReachTheCpuThroughTheIoapic) {
  const uint64_t hpet = pc.layout().hpet_address, ioapic = pc.layout().ioapic_address;
  mmio_write32(pc.layout().lapic_address + 0xF0, 0x1FF);
  mmio_write32(ioapic, 0x10 + 2 * 20);
  mmio_write32(ioapic + 0x10, 0x51);  // vector 0x51, fixed, edge
  mmio_write32(ioapic, 0x10 + 2 * 2);
  mmio_write32(ioapic + 0x10, 0x52);
  mmio_write32(hpet + 0x140, 20 << 9 | 4);  // timer 2: route 20, Tn_INT_ENB_CNF
  mmio_write32(hpet + 0x148, 1000);
  mmio_write32(hpet + 0x100, 4);  // timer 0: Tn_INT_ENB_CNF (LegacyReplacement: IRQ0)
  mmio_write32(hpet + 0x108, 2000);
  mmio_write32(hpet + 0x10, 3);  // ENABLE_CNF | LEG_RT_CNF
  Board& b = pc.board();
  ASSERT_EQ(b.next_deadline(), 10'000u);
  clock.set(10'000);
  EXPECT_TRUE(b.advance_due_timers(clock.now_ns()));
  EXPECT_EQ(b.interrupts->acknowledge(), std::optional<uint8_t>(0x51));
  EXPECT_EQ(b.describe_vector(0x51), "IOAPIC pin 20: HPET");
  mmio_write32(pc.layout().lapic_address + 0xB0, 0);  // EOI
  clock.set(*b.next_deadline());
  EXPECT_EQ(clock.now_ns(), 20'000u);
  b.advance_due_timers(clock.now_ns());
  EXPECT_EQ(b.interrupts->acknowledge(), std::optional<uint8_t>(0x52));
  EXPECT_EQ(b.describe_vector(0x52), "IOAPIC pin 2: HPET timer 0");
}

TEST_F(BoardFixture, LapicPageFollowsApicBase) {
  const uint64_t fee = 0xFEE00000, alt = 0xFED40000, en_bsp = 0x900;
  EXPECT_EQ(mmio_read32(pc, fee + 0x30), Lapic::kVersion);
  ASSERT_TRUE(pc.lapic().set_apic_base(alt | en_bsp));  // apic.c test_apicbase
  EXPECT_EQ(mmio_read32(pc, alt + 0x30), Lapic::kVersion);
  EXPECT_FALSE(mmio_read32(pc, fee + 0x30));
  ASSERT_TRUE(pc.lapic().set_apic_base(alt | 0x100));  // disabled
  EXPECT_FALSE(mmio_read32(pc, alt + 0x30));
  ASSERT_TRUE(pc.lapic().set_apic_base(fee | en_bsp));
  EXPECT_EQ(mmio_read32(pc, fee + 0x30), Lapic::kVersion);
  ASSERT_TRUE(pc.lapic().set_apic_base(fee | en_bsp | 0x400));  // x2APIC
  EXPECT_FALSE(mmio_read32(pc, fee + 0x30));
  ASSERT_TRUE(pc.lapic().set_apic_base(fee | 0x100));
  ASSERT_TRUE(pc.lapic().set_apic_base(fee | en_bsp));
  EXPECT_EQ(mmio_read32(pc, fee + 0x30), Lapic::kVersion);
}

TEST_F(BoardFixture, LapicOverAnotherDeviceOrRamIsNotDecoded) {
  const uint64_t en_bsp = 0x900;
  const uint64_t ioapic = pc.layout().ioapic_address;
  int before = pc.warnings().count("lapic");
  ASSERT_TRUE(pc.lapic().set_apic_base(ioapic | en_bsp));
  EXPECT_EQ(pc.warnings().count("lapic"), before + 1);
  mmio_write32(ioapic, 0x01);
  EXPECT_EQ(mmio_read32(pc, ioapic + 0x10), Ioapic::kVersion) << "the IOAPIC still answers";
  ASSERT_TRUE(pc.lapic().set_apic_base(0x100000 | en_bsp));  // in RAM
  EXPECT_EQ(pc.warnings().count("lapic"), before + 2);
  ASSERT_TRUE(pc.lapic().set_apic_base(Lapic::kDefaultBase | en_bsp));
  EXPECT_EQ(mmio_read32(pc, Lapic::kDefaultBase + 0x30), Lapic::kVersion);
  pc.lapic().restore(pc.lapic().save());  // a restore re-maps in place
  EXPECT_EQ(mmio_read32(pc, Lapic::kDefaultBase + 0x30), Lapic::kVersion);
}

}  // namespace
}  // namespace rrvm
