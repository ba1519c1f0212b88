// ACPI table builders against golden bytes and field offsets written from the
// ACPI 6.5 specification (5.2.5 RSDP, 5.2.6 header, 5.2.7 RSDT, 5.2.9 FADT,
// 5.2.10 FACS, 5.2.12 MADT, 6.2.13 _PRT), plus a small AML walker that
// checks the DSDT's object structure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "firmware/acpi.h"
#include "firmware/hexdump.h"
#include "firmware/platform_layout.h"

namespace rrvm {
namespace {

using Bytes = std::vector<uint8_t>;

uint8_t sum(const Bytes& b) {
  unsigned s = 0;
  for (uint8_t x : b) s += x;
  return static_cast<uint8_t>(s);
}

uint64_t le(const Bytes& b, size_t at, int width) {
  uint64_t v = 0;
  for (int i = width - 1; i >= 0; --i) v = v << 8 | b.at(at + i);
  return v;
}

bool contains(const Bytes& hay, const Bytes& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

// 5.2.6 header: signature, length, revision, checksum, "RRVM  ",
// "RRVM" + signature, OEM revision 1, creator "RRVM", creator revision 1.
Bytes golden_header(const char* sig, uint8_t length, uint8_t rev, uint8_t checksum) {
  auto text = [](std::string t) { return Bytes(t.begin(), t.end()); };
  // 0x00 signature; 0x04 length (u32); 0x08 revision; 0x09 checksum.
  Bytes h = text(sig);
  for (uint8_t b : {length, uint8_t{0}, uint8_t{0}, uint8_t{0}, rev, checksum}) h.push_back(b);
  // 0x0A OEM ID; 0x10 OEM table ID; 0x18 OEM revision; 0x1C creator ID;
  // 0x20 creator revision.
  for (const Bytes& part : {text("RRVM  "), text(std::string("RRVM") + sig), Bytes{1, 0, 0, 0},
                            text("RRVM"), Bytes{1, 0, 0, 0}}) {
    h.insert(h.end(), part.begin(), part.end());
  }
  return h;
}

TEST(Acpi, RsdpMatchesGoldenBytes) {
  const Bytes golden = {
      'R',  'S',  'D',  ' ',  'P',  'T',  'R',  ' ',   // signature
      0x49,                                            // checksum of bytes 0-19
      'R',  'R',  'V',  'M',  ' ',  ' ',               // OEMID
      0x02,                                            // revision 2 (ACPI 2.0+)
      0x00, 0x01, 0x0E, 0x00,                          // RsdtAddress 0xE0100
      0x24, 0x00, 0x00, 0x00,                          // Length 36
      0x20, 0x01, 0x0E, 0x00, 0x00, 0x00, 0x00, 0x00,  // XsdtAddress 0xE0120
      0xAD,                                            // extended checksum
      0x00, 0x00, 0x00,                                // reserved
  };
  Bytes rsdp = build_rsdp(0xE0100, 0xE0120);
  EXPECT_EQ(rsdp, golden) << hexdump(rsdp, 0);
  EXPECT_EQ(sum(Bytes(golden.begin(), golden.begin() + 20)), 0);
  EXPECT_EQ(sum(golden), 0);
}

TEST(Acpi, RsdtAndXsdtListTheTables) {
  const uint32_t a32[] = {0x1000, 0x2000};
  Bytes golden = golden_header("RSDT", 44, 1, 0x12);
  for (uint8_t b : {0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00}) golden.push_back(b);
  EXPECT_EQ(build_rsdt(a32), golden);

  const uint64_t a64[] = {0x1000, 0x123456789ull};
  Bytes xsdt = build_xsdt(a64);
  ASSERT_EQ(xsdt.size(), 36u + 16);
  EXPECT_EQ(le(xsdt, 4, 4), 52u);
  EXPECT_EQ(le(xsdt, 36, 8), 0x1000u);
  EXPECT_EQ(le(xsdt, 44, 8), 0x123456789u);
  EXPECT_EQ(sum(xsdt), 0);
}

TEST(Acpi, FacsIs64BytesWithVersion2AndNoChecksum) {
  Bytes golden(64, 0);
  golden[0] = 'F', golden[1] = 'A', golden[2] = 'C', golden[3] = 'S';
  golden[4] = 64;  // length
  golden[32] = 2;  // version
  EXPECT_EQ(build_facs(), golden);
}

TEST(Acpi, MadtMatchesGoldenBytes) {
  Bytes golden = golden_header("APIC", 90, 1, 0x5D);
  const Bytes body = {
      0x00, 0x00, 0xE0, 0xFE,                          // local APIC address 0xFEE00000
      0x01, 0x00, 0x00, 0x00,                          // flags: PCAT_COMPAT
      0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  // LAPIC: UID 0, ID 0, enabled
      0x01, 0x0C, 0x01, 0x00, 0x00, 0x00, 0xC0, 0xFE,  // IOAPIC: ID 1, 0xFEC00000,
      0x00, 0x00, 0x00, 0x00,                          //   GSI base 0
      0x02, 0x0A, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,  // override ISA IRQ0 -> GSI 2,
      0x00, 0x00,                                      //   conforms
      0x02, 0x0A, 0x00, 0x09, 0x09, 0x00, 0x00, 0x00,  // override ISA IRQ9 -> GSI 9,
      0x0D, 0x00,                                      //   level, active high
      0x04, 0x06, 0xFF, 0x00, 0x00, 0x01,              // LAPIC NMI: all CPUs, LINT1
  };
  golden.insert(golden.end(), body.begin(), body.end());
  Bytes madt = build_madt(default_layout(true));
  EXPECT_EQ(madt, golden) << hexdump(madt, 0);
  EXPECT_EQ(sum(golden), 0);
}

// HPET 1.0a, 3.2.4: what Linux's hpet_table_parse and QEMU's build_hpet
// agree on; the block ID is the device's GCAP_ID bits 31:0.
TEST(Acpi, HpetMatchesGoldenBytes) {
  Bytes golden = golden_header("HPET", 56, 1, 0x97);
  const Bytes body = {
      0x01, 0xA2, 0x86, 0x80,                          // Event Timer Block ID 0x8086A201
      0x00, 0x40, 0x00, 0x00,                          // GAS: System Memory, 64 bits, offset 0,
      0x00, 0x00, 0xD0, 0xFE, 0x00, 0x00, 0x00, 0x00,  //   access size 0, 0xFED00000
      0x00,                                            // HPET Number 0
      0x00, 0x00,                                      // minimum periodic clock tick: none
      0x00,                                            // page protection: none
  };
  golden.insert(golden.end(), body.begin(), body.end());
  Bytes hpet = build_hpet(default_layout(true));
  EXPECT_EQ(hpet, golden) << hexdump(hpet, 0);
  EXPECT_EQ(hpet.size(), acpi::kHpetSize);
  EXPECT_EQ(sum(golden), 0);
}

TEST(Acpi, FadtFieldsAtSpecOffsets) {
  Bytes f = build_fadt(default_layout(true), 0xE0040, 0xE0080);
  ASSERT_EQ(f.size(), 244u);
  EXPECT_EQ(std::string(f.begin(), f.begin() + 4), "FACP");
  EXPECT_EQ(le(f, 4, 4), 244u);
  EXPECT_EQ(f[8], 3);  // revision
  EXPECT_EQ(sum(f), 0);
  EXPECT_EQ(std::string(f.begin() + 16, f.begin() + 24), "RRVMFACP");
  EXPECT_EQ(le(f, 36, 4), 0xE0040u);  // FIRMWARE_CTRL
  EXPECT_EQ(le(f, 40, 4), 0xE0080u);  // DSDT
  EXPECT_EQ(le(f, 46, 2), 9u);        // SCI_INT
  EXPECT_EQ(le(f, 48, 4), 0u);        // SMI_CMD: no SMM
  EXPECT_EQ(f[52], 0);                // ACPI_ENABLE
  EXPECT_EQ(f[53], 0);                // ACPI_DISABLE
  EXPECT_EQ(le(f, 56, 4), 0x600u);    // PM1a_EVT_BLK
  EXPECT_EQ(le(f, 64, 4), 0x604u);    // PM1a_CNT_BLK
  EXPECT_EQ(le(f, 76, 4), 0x608u);    // PM_TMR_BLK
  EXPECT_EQ(le(f, 80, 4), 0u);        // GPE0_BLK: none
  EXPECT_EQ(f[88], 4);                // PM1_EVT_LEN
  EXPECT_EQ(f[89], 2);                // PM1_CNT_LEN
  EXPECT_EQ(f[91], 4);                // PM_TMR_LEN
  EXPECT_EQ(f[108], 0x32);            // CENTURY
  EXPECT_EQ(le(f, 109, 2), 0x0005u);  // IAPC_BOOT_ARCH: LEGACY_DEVICES | VGA Not Present
  // Flags: WBINVD (0), PROC_C1 (2), SLP_BUTTON (5), FIX_RTC (6); TMR_VAL_EXT
  // (8) clear: the PM timer is 24 bits.
  EXPECT_EQ(le(f, 112, 4), 0x65u);
  EXPECT_EQ(le(f, 132, 8), 0u);        // X_FIRMWARE_CTRL
  EXPECT_EQ(le(f, 140, 8), 0xE0080u);  // X_DSDT
}

TEST(Acpi, FadtExtendedBlocksAreSystemIoGas) {
  Bytes f = build_fadt(default_layout(false), 0, 0);
  // 5.2.3.2 GAS: space 1 (System I/O), bit width, bit offset 0, access 0, address.
  const Bytes evt = {0x01, 0x20, 0x00, 0x00, 0x00, 0x06, 0, 0, 0, 0, 0, 0};
  const Bytes cnt = {0x01, 0x10, 0x00, 0x00, 0x04, 0x06, 0, 0, 0, 0, 0, 0};
  const Bytes tmr = {0x01, 0x20, 0x00, 0x00, 0x08, 0x06, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(Bytes(f.begin() + 148, f.begin() + 160), evt);           // X_PM1a_EVT_BLK
  EXPECT_EQ(Bytes(f.begin() + 172, f.begin() + 184), cnt);           // X_PM1a_CNT_BLK
  EXPECT_EQ(Bytes(f.begin() + 208, f.begin() + 220), tmr);           // X_PM_TMR_BLK
  EXPECT_EQ(Bytes(f.begin() + 160, f.begin() + 172), Bytes(12, 0));  // X_PM1b_EVT_BLK
}

// ---- DSDT ----

const Bytes kPicf = {0x08, 0x50, 0x49, 0x43, 0x46, 0x00};
const Bytes kPicMethod = {0x14, 0x0C, 0x5F, 0x50, 0x49, 0x43, 0x01,
                          0x70, 0x68, 0x50, 0x49, 0x43, 0x46};

TEST(AcpiDsdt, HeaderLengthRevisionAndChecksum) {
  Bytes d = build_dsdt(default_layout(true), {true, true});
  EXPECT_EQ(std::string(d.begin(), d.begin() + 4), "DSDT");
  EXPECT_EQ(le(d, 4, 4), d.size());
  EXPECT_EQ(d[8], 2);
  EXPECT_EQ(sum(d), 0);
}

TEST(AcpiDsdt, PicMethodOnlyWhenAsked) {
  Bytes with = build_dsdt(default_layout(true), {true, true});
  Bytes without = build_dsdt(default_layout(true), {true, false});
  EXPECT_TRUE(contains(with, kPicf));
  EXPECT_TRUE(contains(with, kPicMethod));
  EXPECT_FALSE(contains(without, {'_', 'P', 'I', 'C'}));
  EXPECT_FALSE(contains(without, {'P', 'I', 'C', 'F'}));
  EXPECT_EQ(with.size(), without.size() + kPicf.size() + kPicMethod.size());
  EXPECT_EQ(sum(without), 0);
}

TEST(AcpiDsdt, HostBridgeHasPnp0a03Hid) {
  Bytes d = build_dsdt(default_layout(false), {true, false});
  EXPECT_TRUE(contains(d, {0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03}));
  EXPECT_TRUE(contains(d, {0x08, '_', 'A', 'D', 'R', 0x00}));
  EXPECT_TRUE(contains(d, {0x08, '_', 'B', 'B', 'N', 0x00}));
}

TEST(AcpiDsdt, PrtRoutesTheNicSlotToGsis16To19) {
  // 6.2.13: { 0x0003FFFF, pin, 0, GSI }. Slot 3: INTA -> PIRQC (18), INTB ->
  // PIRQD (19), INTC -> PIRQA (16), INTD -> PIRQB (17).
  const Bytes golden = {
      0x08, '_',  'P',  'R',  'T',  0x12, 0x34, 0x04,                          // 4 entries
      0x12, 0x0B, 0x04, 0x0C, 0xFF, 0xFF, 0x03, 0x00, 0x00, 0x00, 0x0A, 0x12,  // INTA 18
      0x12, 0x0B, 0x04, 0x0C, 0xFF, 0xFF, 0x03, 0x00, 0x01, 0x00, 0x0A, 0x13,  // INTB 19
      0x12, 0x0C, 0x04, 0x0C, 0xFF, 0xFF, 0x03, 0x00, 0x0A, 0x02, 0x00, 0x0A,
      0x10,  // INTC 16
      0x12, 0x0C, 0x04, 0x0C, 0xFF, 0xFF, 0x03, 0x00, 0x0A, 0x03, 0x00, 0x0A,
      0x11,  // INTD 17
  };
  EXPECT_TRUE(contains(build_dsdt(default_layout(true), {true, true}), golden));
  // No interrupting PCI device: an empty _PRT package.
  EXPECT_TRUE(contains(build_dsdt(default_layout(false), {true, true}),
                       {0x08, '_', 'P', 'R', 'T', 0x12, 0x02, 0x00}));
}

TEST(AcpiDsdt, S5UsesTheSleepTypeThePmDeviceAccepts) {
  PlatformLayout layout = default_layout(false);
  EXPECT_TRUE(contains(build_dsdt(layout, {true, false}),
                       {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00}));
  layout.s5_slp_typ = 5;
  EXPECT_TRUE(contains(build_dsdt(layout, {true, false}),
                       {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05}));
}

// A walker over the AML subset the DSDT uses (20.2.5): returns the path of
// every named object, "/"-separated, or "error at N".
class AmlWalker {
 public:
  explicit AmlWalker(const Bytes& b) : b_(b) {}

  std::vector<std::string> walk(size_t at, size_t end, const std::string& prefix) {
    while (at < end && ok_) at = term(at, prefix);
    if (at != end) fail(at);
    return names_;
  }

 private:
  size_t pkg_end(size_t at, size_t* after) {
    uint8_t lead = b_.at(at);
    int extra = lead >> 6;
    size_t len = extra ? (lead & 0x0F) : (lead & 0x3F);
    for (int i = 0; i < extra; ++i) len |= size_t{b_.at(at + 1 + i)} << (4 + 8 * i);
    *after = at + 1 + extra;
    return at + len;
  }
  size_t name(size_t at, std::string* out) {
    if (b_.at(at) == 0x5C) ++at;
    int segs = 1;
    if (b_.at(at) == 0x2E) segs = 2, ++at;
    for (int i = 0; i < segs; ++i, at += 4) {
      *out += (i ? "." : "") + std::string(b_.begin() + at, b_.begin() + at + 4);
    }
    return at;
  }
  size_t data(size_t at) {
    switch (b_.at(at)) {
      case 0x00:
      case 0x01:
        return at + 1;
      case 0x0A:
        return at + 2;
      case 0x0B:
        return at + 3;
      case 0x0C:
        return at + 5;
      case 0x11:
      case 0x12: {
        size_t after;
        return pkg_end(at + 1, &after);
      }
      default:
        fail(at);
        return b_.size();
    }
  }
  size_t term(size_t at, const std::string& prefix) {
    std::string n;
    size_t after, end;
    switch (b_.at(at)) {
      case 0x08:
        at = name(at + 1, &n);
        names_.push_back(prefix + n);
        return data(at);
      case 0x10:
      case 0x14:
        end = pkg_end(at + 1, &after);
        after = name(after, &n);
        names_.push_back(prefix + n);
        if (b_[at] == 0x10) walk(after, end, prefix + n + "/");
        return end;
      case 0x5B:
        if (b_.at(at + 1) != 0x82) break;
        end = pkg_end(at + 2, &after);
        after = name(after, &n);
        names_.push_back(prefix + n);
        walk(after, end, prefix + n + "/");
        return end;
    }
    fail(at);
    return b_.size();
  }
  void fail(size_t at) {
    if (ok_) names_.push_back("error at " + std::to_string(at));
    ok_ = false;
  }

  const Bytes& b_;
  std::vector<std::string> names_;
  bool ok_ = true;
};

TEST(AcpiDsdt, ObjectTreeIsWellFormed) {
  Bytes d = build_dsdt(default_layout(true), {true, true});
  std::vector<std::string> names = AmlWalker(d).walk(36, d.size(), "");
  const std::vector<std::string> expected = {
      "_SB_",           "_SB_/PCI0",      "_SB_/PCI0/_HID", "_SB_/PCI0/_ADR", "_SB_/PCI0/_BBN",
      "_SB_/PCI0/_CRS", "_SB_/PCI0/_PRT", "_S5_",           "PICF",           "_PIC",
  };
  EXPECT_EQ(names, expected) << hexdump(d, 0);
}

}  // namespace
}  // namespace rrvm
