// write_bios_tables() checked the way an OS finds the tables: the MP
// floating pointer by the MP spec 1.4 section 4 search (first KiB of the EBDA
// named by BDA 40:0E, last KiB of base memory named by BDA 40:13, then
// 0xF0000-0xFFFFF, on 16-byte boundaries, with a valid checksum), the RSDP
// by the ACPI 6.5 5.2.5.1 search of 0xE0000-0xFFFFF, then RSDP -> RSDT/XSDT
// -> FADT -> FACS/DSDT with every checksum validated.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "devices/guest_memory.h"
#include "firmware/bios_tables.h"
#include "firmware/e820.h"
#include "firmware/hexdump.h"

namespace rrvm {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr size_t kRam = 2 << 20;

Bytes read(const VectorMemory& mem, uint64_t addr, size_t len) {
  Bytes out(len);
  if (!mem.read(addr, out)) ADD_FAILURE() << "read outside RAM at " << addr;
  return out;
}

uint64_t le(const VectorMemory& mem, uint64_t addr, int width) {
  Bytes b = read(mem, addr, width);
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = v << 8 | b[i];
  return v;
}

uint64_t le_bytes(const Bytes& b, size_t at, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = v << 8 | b.at(at + i);
  return v;
}

bool sums_to_zero(const Bytes& b) {
  unsigned s = 0;
  for (uint8_t x : b) s += x;
  return (s & 0xFF) == 0;
}

bool signature_at(const VectorMemory& mem, uint64_t addr, const std::string& sig) {
  Bytes b = read(mem, addr, sig.size());
  return std::equal(b.begin(), b.end(), sig.begin());
}

// ---- MP: the search of MP spec 1.4 section 4 (NetBSD mpbios_probe order) ----

std::optional<uint64_t> search_mp(const VectorMemory& mem, uint64_t start, uint64_t len) {
  for (uint64_t a = start; a + 16 <= start + len; a += 16) {
    if (!signature_at(mem, a, "_MP_")) continue;
    size_t size = 16 * read(mem, a + 8, 1)[0];
    if (size > 0 && sums_to_zero(read(mem, a, size))) return a;
  }
  return std::nullopt;
}

std::optional<uint64_t> find_mp_floating_pointer(const VectorMemory& mem) {
  uint64_t ebda = le(mem, 0x40E, 2) << 4;
  uint64_t memtop = le(mem, 0x413, 2) << 10;
  if (ebda != 0 && ebda < 0xA0000) {
    if (auto fp = search_mp(mem, ebda, 1024)) return fp;
  }
  if (memtop != 0 && memtop <= 0xA0000) {
    if (auto fp = search_mp(mem, memtop - 1024, 1024)) return fp;
  }
  return search_mp(mem, 0xF0000, 0x10000);
}

// ---- ACPI: RSDP search and table walk ----

std::optional<uint64_t> find_rsdp(const VectorMemory& mem) {
  for (uint64_t a = 0xE0000; a < 0x100000; a += 16) {
    if (signature_at(mem, a, "RSD PTR ") && sums_to_zero(read(mem, a, 20))) return a;
  }
  return std::nullopt;
}

// The table at `addr` with its checksum validated, or an empty vector.
Bytes read_table(const VectorMemory& mem, uint64_t addr, const std::string& sig) {
  if (!signature_at(mem, addr, sig)) return {};
  Bytes t = read(mem, addr, le(mem, addr + 4, 4));
  return sums_to_zero(t) ? t : Bytes{};
}

struct AcpiWalk {
  std::vector<std::pair<std::string, uint64_t>> rsdt_tables;  // signature, address
  std::vector<uint64_t> xsdt_tables;
  Bytes fadt, dsdt;
  uint64_t facs = 0;
};

AcpiWalk walk_acpi(const VectorMemory& mem, uint64_t rsdp) {
  AcpiWalk w;
  EXPECT_EQ(read(mem, rsdp + 15, 1)[0], 2) << "RSDP revision";
  EXPECT_TRUE(sums_to_zero(read(mem, rsdp, le(mem, rsdp + 20, 4)))) << "extended checksum";
  Bytes rsdt = read_table(mem, le(mem, rsdp + 16, 4), "RSDT");
  Bytes xsdt = read_table(mem, le(mem, rsdp + 24, 8), "XSDT");
  EXPECT_FALSE(rsdt.empty() || xsdt.empty()) << "RSDT/XSDT missing or bad checksum";
  for (size_t at = 36; at + 4 <= rsdt.size(); at += 4) {
    uint64_t a = le_bytes(rsdt, at, 4);
    Bytes sig = read(mem, a, 4);
    w.rsdt_tables.emplace_back(std::string(sig.begin(), sig.end()), a);
    if (w.rsdt_tables.back().first == "FACP") w.fadt = read_table(mem, a, "FACP");
  }
  for (size_t at = 36; at + 8 <= xsdt.size(); at += 8)
    w.xsdt_tables.push_back(le_bytes(xsdt, at, 8));
  if (w.fadt.size() >= 44) {
    w.facs = le_bytes(w.fadt, 36, 4);  // FIRMWARE_CTRL
    w.dsdt = read_table(mem, le_bytes(w.fadt, 40, 4), "DSDT");
  }
  return w;
}

bool contains(const Bytes& hay, const Bytes& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

const Bytes kPicMethod = {0x14, 0x0C, 0x5F, 0x50, 0x49, 0x43, 0x01,
                          0x70, 0x68, 0x50, 0x49, 0x43, 0x46};

// ---- tests ----

TEST(BiosTables, BdaNamesTheEbdaAndBaseMemory) {
  VectorMemory mem(kRam);
  write_bios_tables(default_layout(true), MpTableVariant::fixed, {true, true}, mem);
  EXPECT_EQ(le(mem, 0x40E, 2), 0x9FC0u);
  EXPECT_EQ(le(mem, 0x413, 2), 639u);
  EXPECT_EQ(read(mem, 0x9FC00, 1)[0], 1) << "EBDA size in KiB";
}

TEST(BiosTables, OsSearchFindsTheMpTableItWasGiven) {
  for (auto variant : {MpTableVariant::kvm84, MpTableVariant::fixed}) {
    VectorMemory mem(kRam);
    PlatformLayout layout = default_layout(true);
    BiosTablesInfo info = write_bios_tables(layout, variant, {true, true}, mem);
    auto fp = find_mp_floating_pointer(mem);
    ASSERT_TRUE(fp.has_value()) << to_string(variant);
    EXPECT_EQ(*fp, info.mp_floating_addr);
    EXPECT_GE(*fp, 0xF0000u);
    uint64_t config = le(mem, *fp + 4, 4);
    EXPECT_EQ(config, info.mp_config_addr);
    EXPECT_EQ(config % 16, 0u);
    Bytes table = read(mem, config, le(mem, config + 4, 2));
    EXPECT_TRUE(sums_to_zero(table));
    EXPECT_EQ(table, build_mp_config_table(variant, layout)) << hexdump(table, config);
  }
}

TEST(BiosTables, MpNoneLeavesNoFloatingPointer) {
  VectorMemory mem(kRam);
  BiosTablesInfo info =
      write_bios_tables(default_layout(true), MpTableVariant::none, {true, true}, mem);
  EXPECT_FALSE(find_mp_floating_pointer(mem).has_value());
  EXPECT_EQ(info.mp_floating_addr, 0u);
  EXPECT_TRUE(find_rsdp(mem).has_value()) << "ACPI is independent of the MP table";
}

TEST(BiosTables, AcpiWalkFindsFadtMadtDsdtAndFacs) {
  VectorMemory mem(kRam);
  BiosTablesInfo info =
      write_bios_tables(default_layout(true), MpTableVariant::fixed, {true, true}, mem);
  auto rsdp = find_rsdp(mem);
  ASSERT_TRUE(rsdp.has_value());
  EXPECT_EQ(*rsdp, info.rsdp_addr);
  AcpiWalk w = walk_acpi(mem, *rsdp);
  ASSERT_EQ(w.rsdt_tables.size(), 3u);
  EXPECT_EQ(w.rsdt_tables[0].first, "FACP");
  EXPECT_EQ(w.rsdt_tables[1].first, "APIC");
  EXPECT_EQ(w.rsdt_tables[2].first, "HPET");
  EXPECT_FALSE(read_table(mem, w.rsdt_tables[1].second, "APIC").empty()) << "MADT checksum";
  EXPECT_FALSE(read_table(mem, w.rsdt_tables[2].second, "HPET").empty()) << "HPET checksum";
  EXPECT_EQ(w.rsdt_tables[2].second, info.hpet_addr);
  EXPECT_EQ(w.xsdt_tables, (std::vector<uint64_t>{w.rsdt_tables[0].second, w.rsdt_tables[1].second,
                                                  w.rsdt_tables[2].second}));
  ASSERT_FALSE(w.fadt.empty());
  ASSERT_FALSE(w.dsdt.empty());
  EXPECT_TRUE(signature_at(mem, w.facs, "FACS"));
  EXPECT_EQ(w.facs % 64, 0u) << "FACS must be 64-byte aligned";
  EXPECT_EQ(le(mem, w.facs + 4, 4), 64u);
}

TEST(BiosTables, NoHpetTableWithoutAnHpet) {
  VectorMemory mem(kRam);
  BiosTablesInfo info =
      write_bios_tables(default_layout(true, false), MpTableVariant::fixed, {true, true}, mem);
  AcpiWalk w = walk_acpi(mem, info.rsdp_addr);
  ASSERT_EQ(w.rsdt_tables.size(), 2u);
  EXPECT_EQ(w.rsdt_tables[1].first, "APIC");
  EXPECT_EQ(w.xsdt_tables.size(), 2u);
  EXPECT_EQ(info.hpet_addr, 0u);
}

TEST(BiosTables, DsdtHasPicMethodOnlyWhenAsked) {
  for (bool pic : {false, true}) {
    VectorMemory mem(kRam);
    write_bios_tables(default_layout(true), MpTableVariant::fixed, {true, pic}, mem);
    auto rsdp = find_rsdp(mem);
    ASSERT_TRUE(rsdp.has_value());
    AcpiWalk w = walk_acpi(mem, *rsdp);
    ASSERT_FALSE(w.dsdt.empty());
    EXPECT_EQ(contains(w.dsdt, kPicMethod), pic);
  }
}

TEST(BiosTables, AcpiOffLeavesNoRsdp) {
  VectorMemory mem(kRam);
  BiosTablesInfo info =
      write_bios_tables(default_layout(true), MpTableVariant::kvm84, {false, false}, mem);
  EXPECT_FALSE(find_rsdp(mem).has_value());
  EXPECT_EQ(info.rsdp_addr, 0u);
  EXPECT_TRUE(find_mp_floating_pointer(mem).has_value());
}

TEST(BiosTables, StaleSignaturesInTheBiosAreaAreCleared) {
  VectorMemory mem(kRam);
  write_bios_tables(default_layout(true), MpTableVariant::fixed, {true, true}, mem);
  write_bios_tables(default_layout(true), MpTableVariant::none, {false, false}, mem);
  EXPECT_FALSE(find_mp_floating_pointer(mem).has_value());
  EXPECT_FALSE(find_rsdp(mem).has_value());
}

TEST(BiosTables, TablesDoNotOverlapAndLieInE820ReservedRanges) {
  VectorMemory mem(kRam);
  BiosTablesInfo i =
      write_bios_tables(default_layout(true), MpTableVariant::fixed, {true, true}, mem);
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {i.mp_floating_addr, 16},
      {i.mp_config_addr, i.mp_config_size},
      {i.rsdp_addr, 36},
      {i.facs_addr, 64},
      {i.dsdt_addr, i.dsdt_size},
      {i.fadt_addr, le(mem, i.fadt_addr + 4, 4)},
      {i.madt_addr, le(mem, i.madt_addr + 4, 4)},
      {i.hpet_addr, le(mem, i.hpet_addr + 4, 4)},
      {i.rsdt_addr, le(mem, i.rsdt_addr + 4, 4)},
      {i.xsdt_addr, le(mem, i.xsdt_addr + 4, 4)},
  };
  std::sort(ranges.begin(), ranges.end());
  for (size_t k = 1; k < ranges.size(); ++k) {
    EXPECT_LE(ranges[k - 1].first + ranges[k - 1].second, ranges[k].first)
        << "overlap at " << ranges[k].first;
  }
  EXPECT_LE(i.acpi_end, 0xF0000u);
  auto e820 = build_e820(256ull << 20);
  for (auto [addr, size] : ranges) {
    bool reserved = std::any_of(e820.begin(), e820.end(), [&](const E820Entry& e) {
      return e.type == kE820Reserved && e.addr <= addr && addr + size <= e.addr + e.size;
    });
    EXPECT_TRUE(reserved) << "table at " << addr << " is not in an E820 reserved range";
  }
}

TEST(BiosTables, RamSmallerThanTheBiosAreaIsAClearError) {
  VectorMemory mem(512 << 10);
  try {
    write_bios_tables(default_layout(true), MpTableVariant::fixed, {true, true}, mem);
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("0x9fc00"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rrvm
