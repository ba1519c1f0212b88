#include "firmware/acpi.h"

#include <string>

#include "firmware/aml.h"
#include "firmware/table_bytes.h"

namespace rrvm {

namespace {

// 5.2.6 header identification (also the RSDP's OEMID).
constexpr std::string_view kOemId = "RRVM";           // 6 bytes, blank-padded
constexpr std::string_view kOemTablePrefix = "RRVM";  // + signature = 8 bytes
constexpr std::string_view kCreatorId = "RRVM";
constexpr uint32_t kOemRevision = 1, kCreatorRevision = 1;
constexpr size_t kLengthOffset = 4;

// Table revisions (see acpi.h).
constexpr uint8_t kRsdtRev = 1, kXsdtRev = 1, kFadtRev = 3, kMadtRev = 1, kDsdtRev = 2;
constexpr uint8_t kHpetRev = 1;

// 5.2.9 FADT fixed feature flags.
constexpr uint32_t kWbinvd = 1u << 0, kProcC1 = 1u << 2, kSlpButton = 1u << 5, kFixRtc = 1u << 6;
// 5.2.9.3 IA-PC boot architecture flags: LEGACY_DEVICES (bit 0: the UART,
// PIT, RTC are ISA devices), 8042 (bit 1) clear, VGA Not Present (bit 2).
constexpr uint16_t kBootArchLegacy = 1u << 0, kBootArchNoVga = 1u << 2;
// P_LVL2_LAT > 100 and P_LVL3_LAT > 1000: C2 and C3 not supported.
constexpr uint16_t kNoC2 = 0x0FFF, kNoC3 = 0x0FFF;
// 5.2.3.2 Generic Address Structure: System I/O space, access size 0
// (undefined: legacy, as in the 32-bit fields).
constexpr uint8_t kGasSystemIo = 1, kGasSystemMemory = 0;

// 5.2.12: MADT PCAT_COMPAT (dual 8259s present) and entry flags.
constexpr uint32_t kPcatCompat = 1, kLapicEnabled = 1;
constexpr uint8_t kIsaBus = 0;            // Interrupt Source Override: Bus 0 = ISA
constexpr uint8_t kAllProcessors = 0xFF;  // Local APIC NMI: ACPI Processor UID "all"
constexpr uint8_t kLint1 = 1;

void put_header(ByteWriter& w, std::string_view signature, uint8_t revision) {
  w.text(signature, 4).u32(0).u8(revision).u8(0);  // length, checksum patched later
  w.text(kOemId, 6).text(std::string(kOemTablePrefix) + std::string(signature), 8);
  w.u32(kOemRevision).text(kCreatorId, 4).u32(kCreatorRevision);
}

std::vector<uint8_t> finish_table(ByteWriter& w) {
  w.patch(kLengthOffset, w.size(), 4);
  std::vector<uint8_t> table = w.take();
  set_checksum(table, acpi::kChecksumOffset, 0, table.size());
  return table;
}

void put_gas_io(ByteWriter& w, uint16_t port, uint8_t length_bytes) {
  w.u8(kGasSystemIo).u8(length_bytes * 8).u8(0).u8(0).u64(port);
}

// FADT bytes 36-55: FIRMWARE_CTRL .. PSTATE_CNT.
void put_fadt_control(ByteWriter& w, const PlatformLayout& layout, uint32_t facs, uint32_t dsdt) {
  w.u32(facs).u32(dsdt);
  w.u8(0);  // reserved (ACPI 1.0 INT_MODEL), zero
  w.u8(0);  // Preferred_PM_Profile: unspecified
  w.u16(layout.sci_irq);
  w.u32(0);       // SMI_CMD: no SMM, always in ACPI mode
  w.u8(0).u8(0);  // ACPI_ENABLE, ACPI_DISABLE
  w.u8(0).u8(0);  // S4BIOS_REQ, PSTATE_CNT
}

// FADT bytes 56-95: the PM register blocks and their lengths.
void put_fadt_blocks(ByteWriter& w, const PlatformLayout& layout) {
  w.u32(layout.pm1a_evt_port).u32(0);  // PM1a_EVT_BLK, PM1b_EVT_BLK
  w.u32(layout.pm1a_cnt_port).u32(0);  // PM1a_CNT_BLK, PM1b_CNT_BLK
  w.u32(0);                            // PM2_CNT_BLK
  w.u32(layout.pm_tmr_port);           // PM_TMR_BLK
  w.u32(0).u32(0);                     // GPE0_BLK, GPE1_BLK: none
  w.u8(layout.pm1a_evt_len).u8(layout.pm1a_cnt_len).u8(0).u8(layout.pm_tmr_len);
  w.u8(0).u8(0).u8(0).u8(0);  // GPE0/1_BLK_LEN, GPE1_BASE, CST_CNT
}

// FADT bytes 96-131: latencies, RTC indexes, boot flags, feature flags.
void put_fadt_misc(ByteWriter& w, const PlatformLayout& layout) {
  w.u16(kNoC2).u16(kNoC3);
  w.u16(0).u16(0);  // FLUSH_SIZE, FLUSH_STRIDE (WBINVD is supported)
  w.u8(0).u8(0);    // DUTY_OFFSET, DUTY_WIDTH: no throttling
  w.u8(0).u8(0);    // DAY_ALRM, MON_ALRM: not supported
  w.u8(layout.rtc_century_index);
  w.u16(kBootArchLegacy | kBootArchNoVga).u8(0);
  w.u32(kWbinvd | kProcC1 | kSlpButton | kFixRtc);
  w.zeros(12).u8(0);  // RESET_REG (none), RESET_VALUE
  w.u16(0).u8(0);     // ARM_BOOT_ARCH, FADT minor version: reserved in rev 3
}

// FADT bytes 132-243: the 64-bit fields.
void put_fadt_extended(ByteWriter& w, const PlatformLayout& layout, uint32_t dsdt) {
  w.u64(0);     // X_FIRMWARE_CTRL: zero, FIRMWARE_CTRL is used
  w.u64(dsdt);  // X_DSDT
  put_gas_io(w, layout.pm1a_evt_port, layout.pm1a_evt_len);
  w.zeros(12);  // X_PM1b_EVT_BLK
  put_gas_io(w, layout.pm1a_cnt_port, layout.pm1a_cnt_len);
  w.zeros(12 * 2);  // X_PM1b_CNT_BLK, X_PM2_CNT_BLK
  put_gas_io(w, layout.pm_tmr_port, layout.pm_tmr_len);
  w.zeros(12 * 2);  // X_GPE0_BLK, X_GPE1_BLK
}

void put_madt_overrides(ByteWriter& w, const PlatformLayout& layout) {
  for (int irq = 0; irq < 16; ++irq) {
    uint8_t pin = layout.isa_irq_to_pin[irq];
    if (pin == PlatformLayout::kNoPin) continue;
    uint16_t flags = irq == layout.sci_irq ? acpi::kIntiLevelActiveHigh : acpi::kIntiConforms;
    if (pin == irq && flags == acpi::kIntiConforms) continue;  // identity needs no override
    // 5.2.12.5: type, length 10, bus, source, GSI, flags.
    w.u8(acpi::kMadtOverride).u8(10).u8(kIsaBus).u8(irq);
    w.u32(layout.ioapic_gsi_base + pin).u16(flags);
  }
}

// _PRT (6.2.13): Package { Address, Pin, Source, Source Index } for the four
// pins of each interrupting slot; Address = slot << 16 | 0xFFFF (any
// function), Source 0 = Source Index is a GSI.
aml::Bytes prt(const PlatformLayout& layout) {
  std::vector<aml::Bytes> entries;
  for (uint8_t slot : pci_interrupt_slots(layout)) {
    for (int pin = 1; pin <= 4; ++pin) {
      uint32_t gsi = layout.ioapic_gsi_base + ioapic_pin_for(layout, slot, pin);
      entries.push_back(aml::package({aml::dword((uint32_t{slot} << 16) | 0xFFFF),
                                      aml::integer(pin - 1), aml::integer(0), aml::integer(gsi)}));
    }
  }
  return aml::name("_PRT", aml::package(entries));
}

// _CRS of the host bridge: the bus range, the config ports, and the I/O and
// memory windows it forwards to PCI (so an OS keeps the BARs assigned).
aml::Bytes host_bridge_crs(const PlatformLayout& layout) {
  namespace res = aml::resource;
  return aml::name("_CRS", aml::resource_template({
                               res::word_bus_number(0x00, 0xFF),
                               res::io(0x0CF8, 0x0CF8, 1, 8),
                               res::word_io(0x0000, 0x0CF7),
                               res::word_io(layout.pci_io_base, 0xFFFF),
                               res::dword_memory(0x000A0000, 0x000BFFFF),
                               res::dword_memory(layout.pci_mmio_base, layout.pci_mmio_limit),
                           }));
}

aml::Bytes pci0(const PlatformLayout& layout) {
  return aml::device("PCI0", aml::cat({
                                 aml::name("_HID", aml::eisa_id("PNP0A03")),
                                 aml::name("_ADR", aml::integer(0)),
                                 aml::name("_BBN", aml::integer(0)),
                                 host_bridge_crs(layout),
                                 prt(layout),
                             }));
}

// 7.4.2: \_S5 = { SLP_TYPa, SLP_TYPb, reserved, reserved }.
aml::Bytes s5(const PlatformLayout& layout) {
  return aml::name("_S5",
                   aml::package({aml::integer(layout.s5_slp_typ), aml::integer(layout.s5_slp_typ),
                                 aml::integer(0), aml::integer(0)}));
}

// 5.8.1: Method(_PIC, 1) { Store(Arg0, PICF) } with Name(PICF, 0).
aml::Bytes pic_method() {
  return aml::cat({aml::name("PICF", aml::integer(0)),
                   aml::method("_PIC", 1, aml::store(aml::arg(0), aml::name_string("PICF")))});
}

}  // namespace

std::vector<uint8_t> build_rsdp(uint32_t rsdt_addr, uint64_t xsdt_addr) {
  // 5.2.5.3: Signature, Checksum (bytes 0-19), OEMID, Revision,
  // RsdtAddress, Length, XsdtAddress, Extended Checksum, reserved.
  ByteWriter w;
  w.text("RSD PTR ", 8).u8(0).text(kOemId, 6).u8(2).u32(rsdt_addr);
  w.u32(acpi::kRsdpSize).u64(xsdt_addr).u8(0).zeros(3);
  std::vector<uint8_t> rsdp = w.take();
  set_checksum(rsdp, 8, 0, acpi::kRsdpV1Size);
  set_checksum(rsdp, 32, 0, acpi::kRsdpSize);
  return rsdp;
}

std::vector<uint8_t> build_rsdt(std::span<const uint32_t> table_addrs) {
  ByteWriter w;
  put_header(w, "RSDT", kRsdtRev);
  for (uint32_t a : table_addrs) w.u32(a);
  return finish_table(w);
}

std::vector<uint8_t> build_xsdt(std::span<const uint64_t> table_addrs) {
  ByteWriter w;
  put_header(w, "XSDT", kXsdtRev);
  for (uint64_t a : table_addrs) w.u64(a);
  return finish_table(w);
}

std::vector<uint8_t> build_fadt(const PlatformLayout& layout, uint32_t facs_addr,
                                uint32_t dsdt_addr) {
  ByteWriter w;
  put_header(w, "FACP", kFadtRev);
  put_fadt_control(w, layout, facs_addr, dsdt_addr);
  put_fadt_blocks(w, layout);
  put_fadt_misc(w, layout);
  put_fadt_extended(w, layout, dsdt_addr);
  return finish_table(w);
}

std::vector<uint8_t> build_facs() {
  // 5.2.10: Signature, Length, Hardware Signature, Firmware Waking Vector,
  // Global Lock, Flags, X_Firmware Waking Vector, Version (2), reserved,
  // OSPM Flags, reserved. No checksum.
  ByteWriter w;
  w.text("FACS", 4).u32(acpi::kFacsSize).u32(0).u32(0).u32(0).u32(0).u64(0).u8(2);
  w.zeros(acpi::kFacsSize - w.size());
  return w.take();
}

std::vector<uint8_t> build_madt(const PlatformLayout& layout) {
  ByteWriter w;
  put_header(w, "APIC", kMadtRev);
  w.u32(layout.lapic_address).u32(kPcatCompat);
  for (int cpu = 0; cpu < layout.num_cpus; ++cpu) {
    // 5.2.12.2: type 0, length 8, ACPI Processor UID, APIC ID, flags.
    w.u8(acpi::kMadtLocalApic).u8(8).u8(cpu).u8(layout.bsp_lapic_id + cpu).u32(kLapicEnabled);
  }
  // 5.2.12.3: type 1, length 12, ID, reserved, address, GSI base.
  w.u8(acpi::kMadtIoapic).u8(12).u8(layout.ioapic_id).u8(0);
  w.u32(layout.ioapic_address).u32(layout.ioapic_gsi_base);
  put_madt_overrides(w, layout);
  // 5.2.12.7: type 4, length 6, ACPI Processor UID, flags, LINT#.
  w.u8(acpi::kMadtLocalNmi).u8(6).u8(kAllProcessors).u16(acpi::kIntiConforms).u8(kLint1);
  return finish_table(w);
}

std::vector<uint8_t> build_hpet(const PlatformLayout& layout) {
  ByteWriter w;
  put_header(w, "HPET", kHpetRev);
  w.u32(layout.hpet_block_id);
  // BASE_ADDRESS: System Memory, 64-bit registers, no bit offset, access size 0.
  w.u8(kGasSystemMemory).u8(64).u8(0).u8(0).u64(layout.hpet_address);
  w.u8(0);   // HPET Number: the first (and only) timer block
  w.u16(0);  // Main Counter Minimum Clock_tick in Periodic Mode: no minimum
  w.u8(0);   // Page Protection and OEM Attribute: no guarantee
  return finish_table(w);
}

std::vector<uint8_t> build_dsdt(const PlatformLayout& layout, const AcpiOptions& options) {
  aml::Bytes body = aml::cat({aml::scope("\\_SB", pci0(layout)), s5(layout)});
  if (options.pic_method) body = aml::cat({body, pic_method()});
  ByteWriter w;
  put_header(w, "DSDT", kDsdtRev);
  w.bytes(body);
  return finish_table(w);
}

}  // namespace rrvm
