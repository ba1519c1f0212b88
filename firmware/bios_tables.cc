#include "firmware/bios_tables.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "devices/hex.h"

namespace rrvm {

namespace {

// A bump allocator over one address range of the BIOS area.
class Region {
 public:
  Region(const char* name, uint64_t start, uint64_t end) : name_(name), next_(start), end_(end) {}

  uint32_t place(size_t size, uint64_t align) {
    uint64_t at = (next_ + align - 1) & ~(align - 1);
    if (at > end_ || size > end_ - at) {
      throw std::length_error(std::string("bios tables: ") + name_ + " area " + hex(end_) +
                              " overflows at " + hex(at) + " + " + std::to_string(size));
    }
    next_ = at + size;
    return static_cast<uint32_t>(at);
  }
  uint64_t next() const { return next_; }

 private:
  const char* name_;
  uint64_t next_;
  uint64_t end_;
};

constexpr uint64_t kParagraph = 16;

void put(GuestMemory& mem, uint64_t addr, std::span<const uint8_t> bytes, const char* what) {
  if (!mem.write(addr, bytes)) {
    throw std::runtime_error(std::string("bios tables: cannot write ") + what + " at " + hex(addr) +
                             " (" + std::to_string(bytes.size()) + " bytes): guest RAM is " +
                             hex(mem.size()) + " bytes");
  }
}

void put16(GuestMemory& mem, uint64_t addr, uint16_t v, const char* what) {
  const uint8_t b[2] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8)};
  put(mem, addr, b, what);
}

void clear(GuestMemory& mem, uint64_t start, uint64_t end, const char* what) {
  std::vector<uint8_t> zeros(end - start, 0);
  put(mem, start, zeros, what);
}

// BDA and EBDA (IBM PC BIOS data area: 40:0E EBDA segment, 40:13 base
// memory size in KiB; EBDA byte 0 = EBDA size in KiB).
void write_bda(GuestMemory& mem) {
  clear(mem, bios::kEbdaAddr, bios::kEbdaAddr + bios::kEbdaSize, "the EBDA");
  put16(mem, bios::kBdaEbdaSegment, bios::kEbdaAddr >> 4, "the BDA EBDA segment");
  put16(mem, bios::kBdaBaseMemoryKib, bios::kBaseMemoryKib, "the BDA base memory size");
  const uint8_t ebda_kib[1] = {bios::kEbdaSize / 1024};
  put(mem, bios::kEbdaAddr, ebda_kib, "the EBDA size");
}

void write_mp(const PlatformLayout& layout, MpTableVariant variant, GuestMemory& mem,
              BiosTablesInfo& info) {
  std::vector<uint8_t> config = build_mp_config_table(variant, layout);
  if (config.empty()) return;
  Region area("MP", bios::kMpAreaStart, bios::kMpAreaEnd);
  info.mp_floating_addr = area.place(mp::kFloatingPointerSize, kParagraph);
  info.mp_config_addr = area.place(config.size(), kParagraph);
  info.mp_config_size = static_cast<uint32_t>(config.size());
  put(mem, info.mp_config_addr, config, "the MP configuration table");
  put(mem, info.mp_floating_addr, build_mp_floating_pointer(info.mp_config_addr),
      "the MP floating pointer");
}

void write_acpi(const PlatformLayout& layout, const AcpiOptions& options, GuestMemory& mem,
                BiosTablesInfo& info) {
  Region area("ACPI", bios::kAcpiAreaStart, bios::kAcpiAreaEnd);
  info.rsdp_addr = area.place(acpi::kRsdpSize, kParagraph);
  info.facs_addr = area.place(acpi::kFacsSize, acpi::kFacsAlignment);

  std::vector<uint8_t> dsdt = build_dsdt(layout, options);
  info.dsdt_addr = area.place(dsdt.size(), kParagraph);
  info.dsdt_size = static_cast<uint32_t>(dsdt.size());
  std::vector<uint8_t> fadt = build_fadt(layout, info.facs_addr, info.dsdt_addr);
  info.fadt_addr = area.place(fadt.size(), kParagraph);
  std::vector<uint8_t> madt = build_madt(layout);
  info.madt_addr = area.place(madt.size(), kParagraph);
  std::vector<uint8_t> hpet = layout.hpet ? build_hpet(layout) : std::vector<uint8_t>{};
  if (layout.hpet) info.hpet_addr = area.place(hpet.size(), kParagraph);

  std::vector<uint32_t> tables32 = {info.fadt_addr, info.madt_addr};
  if (info.hpet_addr) tables32.push_back(info.hpet_addr);
  std::vector<uint64_t> tables64(tables32.begin(), tables32.end());
  std::vector<uint8_t> rsdt = build_rsdt(tables32);
  info.rsdt_addr = area.place(rsdt.size(), kParagraph);
  std::vector<uint8_t> xsdt = build_xsdt(tables64);
  info.xsdt_addr = area.place(xsdt.size(), kParagraph);
  info.acpi_end = static_cast<uint32_t>(area.next());

  put(mem, info.facs_addr, build_facs(), "the FACS");
  put(mem, info.dsdt_addr, dsdt, "the DSDT");
  put(mem, info.fadt_addr, fadt, "the FADT");
  put(mem, info.madt_addr, madt, "the MADT");
  if (info.hpet_addr) put(mem, info.hpet_addr, hpet, "the HPET table");
  put(mem, info.rsdt_addr, rsdt, "the RSDT");
  put(mem, info.xsdt_addr, xsdt, "the XSDT");
  put(mem, info.rsdp_addr, build_rsdp(info.rsdt_addr, info.xsdt_addr), "the RSDP");
}

}  // namespace

BiosTablesInfo write_bios_tables(const PlatformLayout& layout, MpTableVariant variant,
                                 const AcpiOptions& acpi, GuestMemory& mem) {
  BiosTablesInfo info;
  write_bda(mem);
  clear(mem, bios::kAcpiAreaStart, bios::kMpAreaEnd, "the BIOS area 0xE0000-0xFFFFF");
  write_mp(layout, variant, mem, info);
  if (acpi.enabled) write_acpi(layout, acpi, mem, info);
  return info;
}

}  // namespace rrvm
