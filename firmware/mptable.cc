#include "firmware/mptable.h"

#include "firmware/table_bytes.h"

namespace rrvm {

namespace {

// 4.2, Table 4-2 header fields.
constexpr uint8_t kSpecRev = 4;  // MP spec 1.4
constexpr std::string_view kOemId = "RRVM";
constexpr std::string_view kProductId = "RRVM-PC";
constexpr size_t kLengthOffset = 4, kChecksumOffset = 7;

// 4.3.1, Tables 4-4 to 4-6: CPU flags EN (bit 0) and BP (bit 1); signature
// family 6 and feature flags FPU (bit 0) + APIC (bit 9), the values QEMU's
// BIOS used. An OS reads the real ones with CPUID.
constexpr uint8_t kCpuEnabled = 1, kCpuBootstrap = 2;
constexpr uint32_t kCpuSignature = 0x600, kCpuFeatures = 0x201;
// 4.3.3, Table 4-9: I/O APIC flags EN (bit 0).
constexpr uint8_t kIoapicEnabled = 1;
// 4.3.5: LINTIN0 takes the 8259 INTR (virtual wire), LINTIN1 the NMI.
constexpr uint8_t kLint0 = 0, kLint1 = 1;

// Bus IDs of one variant (Appendix D.2: PCI bus 0 first).
struct BusIds {
  bool has_pci;
  uint8_t pci;
  uint8_t isa;
};

BusIds bus_ids(MpTableVariant variant) {
  if (variant == MpTableVariant::fixed) return {true, 0, 1};
  return {false, 0, 0};
}

// Appends entries and counts them for the header's ENTRY COUNT.
struct EntryWriter {
  ByteWriter w;
  int count = 0;

  void processor(const PlatformLayout& layout, int cpu) {
    // 4.3.1, Table 4-4.
    uint8_t flags = kCpuEnabled | (cpu == 0 ? kCpuBootstrap : 0);
    w.u8(mp::kProcessor).u8(layout.bsp_lapic_id + cpu).u8(layout.lapic_version).u8(flags);
    w.u32(kCpuSignature).u32(kCpuFeatures).zeros(8);
    ++count;
  }
  void bus(uint8_t id, std::string_view type) {
    // 4.3.2, Tables 4-7 and 4-8: type string, 6 bytes, blank-padded.
    w.u8(mp::kBus).u8(id).text(type, 6);
    ++count;
  }
  void ioapic(const PlatformLayout& layout) {
    // 4.3.3, Table 4-9.
    w.u8(mp::kIoapic).u8(layout.ioapic_id).u8(layout.ioapic_version).u8(kIoapicEnabled);
    w.u32(layout.ioapic_address);
    ++count;
  }
  // 4.3.4 (Table 4-10) and 4.3.5 (Table 4-12) share one layout: type,
  // interrupt type, flags, source bus ID and IRQ, destination ID and pin.
  void interrupt(uint8_t type, uint8_t int_type, uint16_t flags, uint8_t src_bus, uint8_t src_irq,
                 uint8_t dst_id, uint8_t dst_pin) {
    w.u8(type).u8(int_type).u16(flags).u8(src_bus).u8(src_irq).u8(dst_id).u8(dst_pin);
    ++count;
  }
};

void put_isa_interrupts(EntryWriter& e, MpTableVariant variant, const PlatformLayout& layout,
                        uint8_t isa_bus) {
  for (int irq = 0; irq < 16; ++irq) {
    uint8_t pin = layout.isa_irq_to_pin[irq];
    if (pin == PlatformLayout::kNoPin) continue;
    bool sci_level = variant == MpTableVariant::fixed && irq == layout.sci_irq;
    uint16_t flags = sci_level ? mp::kFlagsLevelActiveHigh : mp::kFlagsConforms;
    e.interrupt(mp::kIoInterrupt, mp::kIntInt, flags, isa_bus, static_cast<uint8_t>(irq),
                layout.ioapic_id, pin);
  }
}

void put_pci_interrupts(EntryWriter& e, const PlatformLayout& layout, uint8_t pci_bus) {
  for (const PciIntx& intx : pci_interrupts(layout)) {
    // Appendix D.3: source bus IRQ bits 6:2 = device number, 1:0 = pin
    // (0 = INTA#).
    auto src_irq = static_cast<uint8_t>(((intx.slot & 31) << 2) | ((intx.pin - 1) & 3));
    e.interrupt(mp::kIoInterrupt, mp::kIntInt, mp::kFlagsLevelActiveHigh, pci_bus, src_irq,
                layout.ioapic_id, ioapic_pin_for(layout, intx.slot, intx.pin));
  }
}

void put_local_interrupts(EntryWriter& e, uint8_t isa_bus) {
  e.interrupt(mp::kLocalInterrupt, mp::kIntExtInt, mp::kFlagsConforms, isa_bus, 0,
              mp::kAllLocalApics, kLint0);
  e.interrupt(mp::kLocalInterrupt, mp::kIntNmi, mp::kFlagsConforms, isa_bus, 0, mp::kAllLocalApics,
              kLint1);
}

// 4.2, Table 4-2; BASE TABLE LENGTH and CHECKSUM are patched by finish().
void put_header(ByteWriter& w, const PlatformLayout& layout, int entry_count) {
  w.text("PCMP", 4).u16(0).u8(kSpecRev).u8(0);
  w.text(kOemId, 8).text(kProductId, 12);
  w.u32(0).u16(0);  // no OEM table
  w.u16(entry_count).u32(layout.lapic_address);
  w.u16(0).u8(0).u8(0);  // no extended table; reserved
}

std::vector<uint8_t> finish(ByteWriter& header, const ByteWriter& entries) {
  header.bytes(entries.view());
  header.patch(kLengthOffset, header.size(), 2);
  std::vector<uint8_t> table = header.take();
  set_checksum(table, kChecksumOffset, 0, table.size());
  return table;
}

}  // namespace

std::optional<MpTableVariant> parse_mp_table_variant(std::string_view text) {
  if (text == "kvm84") return MpTableVariant::kvm84;
  if (text == "fixed") return MpTableVariant::fixed;
  if (text == "none") return MpTableVariant::none;
  return std::nullopt;
}

std::string_view to_string(MpTableVariant variant) {
  switch (variant) {
    case MpTableVariant::kvm84:
      return "kvm84";
    case MpTableVariant::fixed:
      return "fixed";
    case MpTableVariant::none:
      return "none";
  }
  return "?";
}

std::vector<uint8_t> build_mp_config_table(MpTableVariant variant, const PlatformLayout& layout) {
  if (variant == MpTableVariant::none) return {};
  BusIds buses = bus_ids(variant);
  EntryWriter e;
  for (int cpu = 0; cpu < layout.num_cpus; ++cpu) e.processor(layout, cpu);
  if (buses.has_pci) e.bus(buses.pci, "PCI");
  e.bus(buses.isa, "ISA");
  e.ioapic(layout);
  put_isa_interrupts(e, variant, layout, buses.isa);
  if (buses.has_pci) put_pci_interrupts(e, layout, buses.pci);
  put_local_interrupts(e, buses.isa);

  ByteWriter header;
  put_header(header, layout, e.count);
  return finish(header, e.w);
}

std::vector<uint8_t> build_mp_floating_pointer(uint32_t config_table_addr) {
  // 4.1, Table 4-1: signature, PHYSICAL ADDRESS POINTER, LENGTH (16-byte
  // units), SPEC_REV, CHECKSUM, MP FEATURE INFORMATION BYTES 1-5.
  ByteWriter w;
  w.text("_MP_", 4).u32(config_table_addr).u8(1).u8(kSpecRev).u8(0);
  w.u8(0);     // feature byte 1: 0 = a configuration table is present
  w.u8(0);     // feature byte 2: IMCRP = 0, virtual wire mode
  w.zeros(3);  // feature bytes 3-5: reserved
  std::vector<uint8_t> fp = w.take();
  set_checksum(fp, 10, 0, fp.size());
  return fp;
}

}  // namespace rrvm
