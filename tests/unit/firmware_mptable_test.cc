// MP table builder against golden tables written by hand from the Intel
// MultiProcessor Specification 1.4 (section 4.1 floating pointer, 4.2 header,
// 4.3 entries, Appendix D.3 PCI source bus IRQ), and against a parser that
// walks the table the way NetBSD's mpbios_scan() does.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "devices/pci_irq_router.h"
#include "firmware/hexdump.h"
#include "firmware/mptable.h"
#include "firmware/platform_layout.h"

namespace rrvm {
namespace {

using Bytes = std::vector<uint8_t>;

uint8_t sum(const Bytes& b) {
  unsigned s = 0;
  for (uint8_t x : b) s += x;
  return static_cast<uint8_t>(s);
}

void append(Bytes& to, const Bytes& more) {
  to.insert(to.end(), more.begin(), more.end());
}

// Header (Table 4-2) with the given BASE TABLE LENGTH, CHECKSUM and ENTRY COUNT.
Bytes golden_header(uint8_t length, uint8_t checksum, uint8_t count) {
  return {
      'P',      'C',  'M',  'P',                                           // 0x00 signature
      length,   0x00,                                                      // 0x04 base table length
      0x04,                                                                // 0x06 spec rev 1.4
      checksum,                                                            // 0x07 checksum
      'R',      'R',  'V',  'M',  ' ', ' ', ' ', ' ',                      // 0x08 OEM ID
      'R',      'R',  'V',  'M',  '-', 'P', 'C', ' ', ' ', ' ', ' ', ' ',  // 0x10 product ID
      0x00,     0x00, 0x00, 0x00,                                          // 0x1C OEM table pointer
      0x00,     0x00,                                                      // 0x20 OEM table size
      count,    0x00,                                                      // 0x22 entry count
      0x00,     0x00, 0xE0, 0xFE,  // 0x24 local APIC 0xFEE00000
      0x00,     0x00,              // 0x28 extended table length
      0x00,                        // 0x2A extended checksum
      0x00,                        // 0x2B reserved
  };
}

// Processor entry (Table 4-4): APIC ID 0, version 0x14, EN|BP, family 6,
// features FPU|APIC, 8 reserved bytes.
const Bytes kProcessor = {0x00, 0x00, 0x14, 0x03, 0x00, 0x06, 0x00, 0x00, 0x01, 0x02,
                          0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
// I/O APIC entry (Table 4-9): ID 1, version 0x11, EN, 0xFEC00000.
const Bytes kIoapic = {0x02, 0x01, 0x11, 0x01, 0x00, 0x00, 0xC0, 0xFE};

// I/O interrupt entries (Table 4-10) for ISA IRQs 0-15 on source bus `bus`:
// type 3, INT, flags, bus, IRQ, dest IOAPIC 1, INTIN. IRQ0 -> INTIN2, no
// IRQ2; `irq9_flags` for IRQ 9 (the SCI).
Bytes golden_isa(uint8_t bus, uint8_t irq9_flags) {
  return {
      0x03, 0x00, 0x00,       0x00, bus, 0x00, 0x01, 0x02,  // IRQ0 -> INTIN2
      0x03, 0x00, 0x00,       0x00, bus, 0x01, 0x01, 0x01,  // IRQ1
      0x03, 0x00, 0x00,       0x00, bus, 0x03, 0x01, 0x03,  // IRQ3 (IRQ2: cascade, none)
      0x03, 0x00, 0x00,       0x00, bus, 0x04, 0x01, 0x04,  // IRQ4
      0x03, 0x00, 0x00,       0x00, bus, 0x05, 0x01, 0x05,  // IRQ5
      0x03, 0x00, 0x00,       0x00, bus, 0x06, 0x01, 0x06,  // IRQ6
      0x03, 0x00, 0x00,       0x00, bus, 0x07, 0x01, 0x07,  // IRQ7
      0x03, 0x00, 0x00,       0x00, bus, 0x08, 0x01, 0x08,  // IRQ8
      0x03, 0x00, irq9_flags, 0x00, bus, 0x09, 0x01, 0x09,  // IRQ9 (SCI)
      0x03, 0x00, 0x00,       0x00, bus, 0x0A, 0x01, 0x0A,  // IRQ10
      0x03, 0x00, 0x00,       0x00, bus, 0x0B, 0x01, 0x0B,  // IRQ11
      0x03, 0x00, 0x00,       0x00, bus, 0x0C, 0x01, 0x0C,  // IRQ12
      0x03, 0x00, 0x00,       0x00, bus, 0x0D, 0x01, 0x0D,  // IRQ13
      0x03, 0x00, 0x00,       0x00, bus, 0x0E, 0x01, 0x0E,  // IRQ14
      0x03, 0x00, 0x00,       0x00, bus, 0x0F, 0x01, 0x0F,  // IRQ15
  };
}

// Local interrupt entries (Table 4-12): ExtINT -> all LAPICs' LINT0, NMI -> LINT1.
Bytes golden_local(uint8_t isa_bus) {
  return {
      0x04, 0x03, 0x00, 0x00, isa_bus, 0x00, 0xFF, 0x00,  // ExtINT, LINTIN0
      0x04, 0x01, 0x00, 0x00, isa_bus, 0x00, 0xFF, 0x01,  // NMI, LINTIN1
  };
}

// kvm-84 (the seed's broken BIOS): 216 bytes, 20 entries, one ISA bus.
Bytes golden_kvm84() {
  Bytes t = golden_header(0xD8, 0x2E, 20);
  append(t, kProcessor);
  append(t, {0x01, 0x00, 'I', 'S', 'A', ' ', ' ', ' '});  // bus 0 = ISA
  append(t, kIoapic);
  append(t, golden_isa(0, 0x00));
  append(t, golden_local(0));
  return t;
}

// The seed's fix with the RTL8139 at slot 3 INTA#: 232 bytes, 22 entries.
Bytes golden_fixed_with_nic() {
  Bytes t = golden_header(0xE8, 0x91, 22);
  append(t, kProcessor);
  append(t, {0x01, 0x00, 'P', 'C', 'I', ' ', ' ', ' '});  // bus 0 = PCI
  append(t, {0x01, 0x01, 'I', 'S', 'A', ' ', ' ', ' '});  // bus 1 = ISA
  append(t, kIoapic);
  append(t, golden_isa(1, 0x0D));  // IRQ9 level, active high
  // PCI 00:03 INTA#: flags 0x0d, bus 0, IRQ (3 << 2) | 0 = 0x0C; PIIX3
  // swizzle: PIRQ (3 + 1 - 2) & 3 = C -> INTIN 18.
  append(t, {0x03, 0x00, 0x0D, 0x00, 0x00, 0x0C, 0x01, 0x12});
  append(t, golden_local(1));
  return t;
}

TEST(MpTable, Kvm84MatchesGoldenBytes) {
  Bytes table = build_mp_config_table(MpTableVariant::kvm84, default_layout(true));
  EXPECT_EQ(table, golden_kvm84()) << hexdump(table, 0);
}

TEST(MpTable, FixedMatchesGoldenBytes) {
  Bytes table = build_mp_config_table(MpTableVariant::fixed, default_layout(true));
  EXPECT_EQ(table, golden_fixed_with_nic()) << hexdump(table, 0);
}

TEST(MpTable, GoldenTablesThemselvesSumToZero) {
  EXPECT_EQ(sum(golden_kvm84()), 0);
  EXPECT_EQ(sum(golden_fixed_with_nic()), 0);
}

TEST(MpTable, FloatingPointerMatchesGoldenBytes) {
  const Bytes golden = {
      '_',  'M',  'P',  '_',   // signature
      0x10, 0x00, 0x0F, 0x00,  // config table at 0x000F0010
      0x01,                    // length: 1 paragraph
      0x04,                    // spec rev 1.4
      0x81,                    // checksum
      0x00,                    // feature byte 1: config table present
      0x00,                    // feature byte 2: IMCRP clear (virtual wire)
      0x00, 0x00, 0x00,        // feature bytes 3-5
  };
  EXPECT_EQ(build_mp_floating_pointer(0xF0010), golden);
  EXPECT_EQ(sum(golden), 0);
}

TEST(MpTable, ChecksumsSumToZeroForEveryVariantAndLayout) {
  for (bool nic : {false, true}) {
    for (auto v : {MpTableVariant::kvm84, MpTableVariant::fixed}) {
      Bytes t = build_mp_config_table(v, default_layout(nic));
      EXPECT_EQ(sum(t), 0) << to_string(v) << " nic=" << nic;
      EXPECT_EQ(t[4] | t[5] << 8, static_cast<int>(t.size()));
    }
  }
  EXPECT_EQ(sum(build_mp_floating_pointer(0x12345670)), 0);
}

TEST(MpTable, NoneBuildsNothing) {
  EXPECT_TRUE(build_mp_config_table(MpTableVariant::none, default_layout(true)).empty());
}

TEST(MpTable, VariantNamesRoundTrip) {
  for (auto v : {MpTableVariant::kvm84, MpTableVariant::fixed, MpTableVariant::none}) {
    EXPECT_EQ(parse_mp_table_variant(to_string(v)), v);
  }
  EXPECT_EQ(parse_mp_table_variant("KVM84"), std::nullopt);
  EXPECT_EQ(parse_mp_table_variant(""), std::nullopt);
}

// ---- A parser in the manner of NetBSD sys/arch/x86/x86/mpbios.c ----

struct ParsedInterrupt {
  uint8_t type, int_type;
  uint16_t flags;
  uint8_t src_bus, src_irq, dst_id, dst_pin;
};

struct ParsedTable {
  bool ok = false;
  std::string error;
  std::map<uint8_t, std::string> buses;  // bus ID -> type string without blanks
  int processors = 0;
  std::vector<uint8_t> ioapic_ids;
  std::vector<ParsedInterrupt> interrupts;  // entry types 3 and 4
};

uint16_t le16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>(b[at] | b[at + 1] << 8);
}

ParsedTable parse(const Bytes& t) {
  ParsedTable p;
  if (t.size() < 44 || std::string(t.begin(), t.begin() + 4) != "PCMP") {
    p.error = "no PCMP header";
    return p;
  }
  if (le16(t, 4) != t.size() || sum(t) != 0) {
    p.error = "bad length or checksum";
    return p;
  }
  size_t at = 44;
  for (int n = le16(t, 0x22); n > 0; --n) {
    if (at >= t.size()) {
      p.error = "entry count runs past the table";
      return p;
    }
    uint8_t type = t[at];
    size_t len = type == 0 ? 20 : 8;
    if (type > 4 || at + len > t.size()) {
      p.error = "unknown entry type " + std::to_string(type);
      return p;
    }
    if (type == 0) ++p.processors;
    if (type == 1) {
      std::string name(t.begin() + at + 2, t.begin() + at + 8);
      p.buses[t[at + 1]] = name.substr(0, name.find(' '));
    }
    if (type == 2) p.ioapic_ids.push_back(t[at + 1]);
    if (type >= 3) {
      p.interrupts.push_back(
          {type, t[at + 1], le16(t, at + 2), t[at + 4], t[at + 5], t[at + 6], t[at + 7]});
    }
    at += len;
  }
  p.ok = at == t.size();
  if (!p.ok) p.error = "entries do not fill the table";
  return p;
}

// mpbios_int() for a PCI device: the I/O interrupt entry whose source bus is
// a "PCI" bus and whose IRQ encodes (device << 2) | (pin - 1).
std::optional<ParsedInterrupt> find_pci_interrupt(const ParsedTable& p, int slot, int pin) {
  for (const auto& i : p.interrupts) {
    auto bus = p.buses.find(i.src_bus);
    if (i.type != 3 || bus == p.buses.end() || bus->second != "PCI") continue;
    if (((i.src_irq >> 2) & 0x1F) == slot && (i.src_irq & 3) == pin - 1) return i;
  }
  return std::nullopt;
}

bool has_pci_bus(const ParsedTable& p) {
  for (const auto& [id, name] : p.buses) {
    if (name == "PCI") return true;
  }
  return false;
}

TEST(MpTable, Kvm84HasNoPciBusSoTheNicInterruptIsNotFound) {
  ParsedTable p = parse(build_mp_config_table(MpTableVariant::kvm84, default_layout(true)));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_FALSE(has_pci_bus(p));
  EXPECT_EQ(p.buses.size(), 1u);
  EXPECT_EQ(p.buses.at(0), "ISA");
  EXPECT_FALSE(find_pci_interrupt(p, kNicSlot, 1).has_value());
  for (const auto& i : p.interrupts) EXPECT_EQ(i.flags, 0) << "kvm-84 flags all 'conforms'";
}

TEST(MpTable, FixedHasPciBusZeroAndTheNicInterruptLevelHigh) {
  PlatformLayout layout = default_layout(true);
  ParsedTable p = parse(build_mp_config_table(MpTableVariant::fixed, layout));
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.buses.at(0), "PCI");
  EXPECT_EQ(p.buses.at(1), "ISA");
  auto nic = find_pci_interrupt(p, kNicSlot, 1);
  ASSERT_TRUE(nic.has_value());
  EXPECT_EQ(nic->flags, 0x0D);  // level-triggered, active high
  EXPECT_EQ(nic->dst_id, layout.ioapic_id);
  EXPECT_EQ(nic->dst_pin, 18);  // PIRQC
  ASSERT_EQ(p.ioapic_ids.size(), 1u);
  EXPECT_EQ(p.ioapic_ids[0], layout.ioapic_id);
}

TEST(MpTable, FixedIsaEntriesNameTheIsaBus) {
  ParsedTable p = parse(build_mp_config_table(MpTableVariant::fixed, default_layout(false)));
  ASSERT_TRUE(p.ok) << p.error;
  int isa_entries = 0;
  for (const auto& i : p.interrupts) {
    if (i.type == 3 && p.buses.at(i.src_bus) == "ISA") ++isa_entries;
  }
  EXPECT_EQ(isa_entries, 15);
  EXPECT_FALSE(find_pci_interrupt(p, kNicSlot, 1).has_value()) << "no NIC, no PCI entry";
}

TEST(MpTable, EntryCountGrowsWithCpusAndOnlyTheFirstIsBootstrap) {
  PlatformLayout layout = default_layout(false);
  layout.num_cpus = 2;
  Bytes t = build_mp_config_table(MpTableVariant::kvm84, layout);
  ParsedTable p = parse(t);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.processors, 2);
  EXPECT_EQ(t[44 + 3], 0x03);       // CPU 0: EN | BP
  EXPECT_EQ(t[44 + 20 + 1], 0x01);  // CPU 1: APIC ID 1
  EXPECT_EQ(t[44 + 20 + 3], 0x01);  // CPU 1: EN only
}

TEST(MpTable, LocalApicAddressComesFromTheLayout) {
  PlatformLayout layout = default_layout(false);
  layout.lapic_address = 0xFEE01000;
  Bytes t = build_mp_config_table(MpTableVariant::fixed, layout);
  EXPECT_EQ(t[0x24] | t[0x25] << 8 | t[0x26] << 16 | uint32_t{t[0x27]} << 24, 0xFEE01000u);
}

TEST(PlatformLayout, SwizzleAgreesWithThePciIrqRouterModel) {
  PlatformLayout layout = default_layout(true);
  for (int slot = 0; slot < 32; ++slot) {
    for (int pin = 1; pin <= 4; ++pin) {
      EXPECT_EQ(pirq_for(slot, pin), PciIrqRouter::pirq_for(slot, pin));
      EXPECT_EQ(ioapic_pin_for(layout, slot, pin), PciIrqRouter::apic_pin_for(slot, pin));
    }
  }
}

TEST(PlatformLayout, NicIsSlot3IntaOnPirqCAndIrq11) {
  PlatformLayout layout = default_layout(true);
  EXPECT_EQ(pirq_for(kNicSlot, 1), 2);
  EXPECT_EQ(ioapic_pin_for(layout, kNicSlot, 1), 18);
  EXPECT_EQ(pic_irq_for(layout, kNicSlot, 1), 11);
  EXPECT_EQ(pci_interrupt_slots(layout), std::vector<uint8_t>{kNicSlot});
  EXPECT_TRUE(pci_interrupt_slots(default_layout(false)).empty());
}

TEST(Hexdump, CanonicalLayoutWithAddressAndAscii) {
  Bytes fp = build_mp_floating_pointer(0xF0010);
  EXPECT_EQ(hexdump(fp, 0xF0000),
            "000f0000  5f 4d 50 5f 10 00 0f 00  01 04 81 00 00 00 00 00  |_MP_............|\n");
  EXPECT_EQ(hexdump(Bytes{0x41, 0x00}, 0x10),
            "00000010  41 00                                             |A.|\n");
  EXPECT_EQ(hexdump(Bytes{}, 0), "");
}

}  // namespace
}  // namespace rrvm
