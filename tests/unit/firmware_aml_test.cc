// AML encoder against byte sequences from the ACPI 6.5 specification,
// chapter 20 (grammar and byte values), 6.4 (resource descriptors) and the
// two encodings PLATFORM.md gives for Name(PICF, 0) and Method(_PIC, 1).
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "firmware/aml.h"

namespace rrvm {
namespace {

using aml::Bytes;

TEST(Aml, NamePicfZeroMatchesPlatformDoc) {
  EXPECT_EQ(aml::name("PICF", aml::integer(0)), (Bytes{0x08, 0x50, 0x49, 0x43, 0x46, 0x00}));
}

TEST(Aml, PicMethodMatchesPlatformDoc) {
  Bytes m = aml::method("_PIC", 1, aml::store(aml::arg(0), aml::name_string("PICF")));
  EXPECT_EQ(m,
            (Bytes{0x14, 0x0C, 0x5F, 0x50, 0x49, 0x43, 0x01, 0x70, 0x68, 0x50, 0x49, 0x43, 0x46}));
}

// 20.2.4: the PkgLength value counts itself. One byte holds totals up to 63;
// two bytes up to 4095 (4 + 8 bits); three up to 2^20 - 1; four up to 2^28 - 1.
TEST(Aml, PkgLengthOneByteUpToTotal63) {
  EXPECT_EQ(aml::pkg_length(0), Bytes{0x01});
  EXPECT_EQ(aml::pkg_length(62), Bytes{0x3F});  // total 63
}

TEST(Aml, PkgLengthTwoBytesFromTotal64) {
  // 63 content bytes: a 1-byte length would make 64 > 63, so two bytes and
  // a total of 65 = 0x041: lead 0x40 | 0x1, then 0x04.
  EXPECT_EQ(aml::pkg_length(63), (Bytes{0x41, 0x04}));
  EXPECT_EQ(aml::pkg_length(4093), (Bytes{0x4F, 0xFF}));  // total 4095 = 0xFFF
}

TEST(Aml, PkgLengthThreeBytesFromTotal4096) {
  // 4094 content bytes: 4096 does not fit in 12 bits; total 4097 = 0x1001.
  EXPECT_EQ(aml::pkg_length(4094), (Bytes{0x81, 0x00, 0x01}));
  EXPECT_EQ(aml::pkg_length((1u << 20) - 4), (Bytes{0x8F, 0xFF, 0xFF}));  // total 0xFFFFF
}

TEST(Aml, PkgLengthFourBytesAndItsLimit) {
  EXPECT_EQ(aml::pkg_length((1u << 20) - 3), (Bytes{0xC1, 0x00, 0x00, 0x01}));  // 0x100001
  EXPECT_EQ(aml::pkg_length((1u << 28) - 5), (Bytes{0xCF, 0xFF, 0xFF, 0xFF}));  // 0xFFFFFFF
  EXPECT_THROW(aml::pkg_length((1u << 28) - 4), std::length_error);
}

TEST(Aml, BufferOfSize63And64UsesOneAndTwoLengthBytes) {
  // Buffer(n) contents: BytePrefix n (2 bytes) + n bytes.
  Bytes small = aml::buffer(Bytes(60, 0xAA));  // contents 62 -> total 63
  EXPECT_EQ(small.size(), 1u + 1 + 62);
  EXPECT_EQ(small[1], 0x3F);
  Bytes big = aml::buffer(Bytes(61, 0xAA));  // contents 63 -> total 65
  EXPECT_EQ(big.size(), 1u + 2 + 63);
  EXPECT_EQ(big[1], 0x41);
  EXPECT_EQ(big[2], 0x04);
  EXPECT_EQ(big[3], 0x0A);  // BufferSize follows the PkgLength
  EXPECT_EQ(big[4], 61);
}

TEST(Aml, NameStringsRootDualMultiAndParent) {
  EXPECT_EQ(aml::name_string("_S5"), (Bytes{'_', 'S', '5', '_'}));
  EXPECT_EQ(aml::name_string("\\_SB.PCI0"),
            (Bytes{0x5C, 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
  EXPECT_EQ(aml::name_string("_SB.PCI0.ISA"),
            (Bytes{0x2F, 0x03, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'I', 'S', 'A', '_'}));
  EXPECT_EQ(aml::name_string("^^PCI0"), (Bytes{0x5E, 0x5E, 'P', 'C', 'I', '0'}));
  EXPECT_EQ(aml::name_string("\\"), (Bytes{0x5C, 0x00}));
}

TEST(Aml, MalformedNamesThrow) {
  for (const char* bad : {"pci0", "0ABC", "ABCDE", "", "A..B", "\\A.", ".A", "^", "A-B"}) {
    EXPECT_THROW(aml::name_string(bad), std::invalid_argument) << bad;
  }
}

TEST(Aml, IntegersUseTheSmallestEncoding) {
  EXPECT_EQ(aml::integer(0), Bytes{0x00});
  EXPECT_EQ(aml::integer(1), Bytes{0x01});
  EXPECT_EQ(aml::integer(2), (Bytes{0x0A, 0x02}));
  EXPECT_EQ(aml::integer(0xFF), (Bytes{0x0A, 0xFF}));
  EXPECT_EQ(aml::integer(0x100), (Bytes{0x0B, 0x00, 0x01}));
  EXPECT_EQ(aml::integer(0x10000), (Bytes{0x0C, 0x00, 0x00, 0x01, 0x00}));
  EXPECT_EQ(aml::integer(0x100000000ull),
            (Bytes{0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}));
  EXPECT_EQ(aml::dword(1), (Bytes{0x0C, 0x01, 0x00, 0x00, 0x00}));
}

TEST(Aml, StringsAreNulTerminatedAscii) {
  EXPECT_EQ(aml::string("AB"), (Bytes{0x0D, 'A', 'B', 0x00}));
  EXPECT_EQ(aml::string(""), (Bytes{0x0D, 0x00}));
  EXPECT_THROW(aml::string("\xC3\xA9"), std::invalid_argument);
  EXPECT_THROW(aml::string(std::string_view("A\0B", 3)), std::invalid_argument);
}

TEST(Aml, EisaIdCompressesLettersAndSwapsBytes) {
  // "PNP": P=0x10, N=0x0E, P=0x10 -> 0 10000 01110 10000 = 0x41D0; then 0A03.
  EXPECT_EQ(aml::eisa_id_value("PNP0A03"), 0x030AD041u);
  EXPECT_EQ(aml::eisa_id("PNP0A03"), (Bytes{0x0C, 0x41, 0xD0, 0x0A, 0x03}));
  EXPECT_EQ(aml::eisa_id_value("PNP0C0F"), 0x0F0CD041u);
  EXPECT_THROW(aml::eisa_id_value("PNP0A0"), std::invalid_argument);
  EXPECT_THROW(aml::eisa_id_value("pnp0A03"), std::invalid_argument);
  EXPECT_THROW(aml::eisa_id_value("PNP0A0G"), std::invalid_argument);
}

TEST(Aml, ArgsAndLocals) {
  EXPECT_EQ(aml::arg(0), Bytes{0x68});
  EXPECT_EQ(aml::arg(6), Bytes{0x6E});
  EXPECT_EQ(aml::local(0), Bytes{0x60});
  EXPECT_EQ(aml::local(7), Bytes{0x67});
  EXPECT_THROW(aml::arg(7), std::invalid_argument);
  EXPECT_THROW(aml::local(8), std::invalid_argument);
  EXPECT_THROW(aml::arg(-1), std::invalid_argument);
}

TEST(Aml, PackageOfS5) {
  // Name(_S5, Package() {0, 0, 0, 0}): PackageOp, PkgLength 6, NumElements 4.
  Bytes s5 = aml::name(
      "_S5", aml::package({aml::integer(0), aml::integer(0), aml::integer(0), aml::integer(0)}));
  EXPECT_EQ(s5, (Bytes{0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00}));
  EXPECT_THROW(aml::package(std::vector<Bytes>(256, aml::integer(0))), std::length_error);
}

TEST(Aml, DeviceScopeMethodReturn) {
  EXPECT_EQ(aml::scope("\\_SB", {}), (Bytes{0x10, 0x06, 0x5C, '_', 'S', 'B', '_'}));
  Bytes dev = aml::device("PCI0", aml::name("_HID", aml::eisa_id("PNP0A03")));
  EXPECT_EQ(dev, (Bytes{0x5B, 0x82, 0x0F, 'P', 'C', 'I', '0', 0x08, '_', 'H', 'I', 'D', 0x0C, 0x41,
                        0xD0, 0x0A, 0x03}));
  // MethodFlags: ArgCount 2 | SerializeFlag (bit 3).
  EXPECT_EQ(aml::method("FOO", 2, aml::return_value(aml::local(0)), true),
            (Bytes{0x14, 0x08, 'F', 'O', 'O', '_', 0x0A, 0xA4, 0x60}));
  EXPECT_THROW(aml::method("FOO", 8, {}), std::invalid_argument);
}

TEST(Aml, BufferHoldsItsSize) {
  EXPECT_EQ(aml::buffer({1, 2, 3}), (Bytes{0x11, 0x06, 0x0A, 0x03, 0x01, 0x02, 0x03}));
  EXPECT_EQ(aml::buffer({}), (Bytes{0x11, 0x02, 0x00}));
}

TEST(AmlResource, IoPortDescriptor) {
  // 6.4.2.5: 0x47, Decode16, min, max, alignment, length.
  EXPECT_EQ(aml::resource::io(0x0CF8, 0x0CF8, 1, 8),
            (Bytes{0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08}));
}

TEST(AmlResource, WordBusNumberAndWordIo) {
  // 6.4.3.5.3: 0x88, length 13, type (2 bus / 1 I/O), general flags
  // MinFixed|MaxFixed (0x0C), type flags, granularity, min, max, offset, length.
  EXPECT_EQ(aml::resource::word_bus_number(0x00, 0xFF),
            (Bytes{0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0x00, 0x00,
                   0x00, 0x00, 0x01}));
  EXPECT_EQ(aml::resource::word_io(0x0000, 0x0CF7),
            (Bytes{0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0xF7, 0x0C, 0x00,
                   0x00, 0xF8, 0x0C}));
}

TEST(AmlResource, DWordMemoryAndEndTag) {
  // 6.4.3.5.2: 0x87, length 23, type 0 memory, 0x0C, cacheable|RW (0x03).
  EXPECT_EQ(aml::resource::dword_memory(0x000A0000, 0x000BFFFF),
            (Bytes{0x87, 0x17, 0x00, 0x00, 0x0C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A,
                   0x00, 0xFF, 0xFF, 0x0B, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00}));
  EXPECT_EQ(aml::resource::end_tag(), (Bytes{0x79, 0x00}));
}

TEST(AmlResource, TemplateIsABufferEndingWithEndTag) {
  Bytes t = aml::resource_template({aml::resource::io(0x60, 0x60, 1, 1)});
  EXPECT_EQ(t, (Bytes{0x11, 0x0D, 0x0A, 0x0A, 0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x79,
                      0x00}));
}

}  // namespace
}  // namespace rrvm
