// QEMU's fw_cfg device from its specification (QEMU docs/specs/fw_cfg.rst):
// the selector/data port protocol, the items kvm-unit-tests and firmware
// read, the file directory, and the DMA interface.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "devices/fw_cfg.h"

namespace rrvm {
namespace {

constexpr uint64_t kSel = 0, kData = 1, kDmaHi = 4, kDmaLo = 8;

struct Rig {
  explicit Rig(FwCfg::Content c = content())
      : cfg(c, ram, [this](const std::string& m) { warnings.push_back(m); }) {}
  static FwCfg::Content content() {
    FwCfg::Content c;
    c.ram_size = 256ull << 20;
    c.cpus = 1;
    c.cmdline = "console=ttyS0";
    c.files["etc/e820"] = {1, 2, 3, 4, 5};
    c.files["a/first"] = {9};
    return c;
  }

  VectorMemory ram{1 << 20};
  std::vector<std::string> warnings;
  FwCfg cfg;

  void select(uint16_t key) {
    uint8_t b[2] = {uint8_t(key), uint8_t(key >> 8)};
    cfg.write(kSel, b);
  }
  uint8_t in8(uint64_t off = kData) {
    uint8_t b[1];
    cfg.read(off, b);
    return b[0];
  }
  // kvm-unit-tests' fwcfg_get_u: select, then `bytes` byte reads, little-endian.
  uint64_t get(uint16_t key, int bytes) {
    select(key);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{in8()} << (8 * i);
    return v;
  }
  std::string get_string(uint16_t key, size_t n) {
    select(key);
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(in8()));
    return s;
  }
  void out32_be(uint64_t off, uint32_t v) {
    uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
    cfg.write(off, b);
  }
  // Places a FWCfgDmaAccess at `at` and starts it with a write of the low half.
  uint32_t dma(uint64_t at, uint32_t control, uint32_t length, uint64_t address) {
    std::vector<uint8_t> a;
    for (int i = 3; i >= 0; --i) a.push_back(uint8_t(control >> (8 * i)));
    for (int i = 3; i >= 0; --i) a.push_back(uint8_t(length >> (8 * i)));
    for (int i = 7; i >= 0; --i) a.push_back(uint8_t(address >> (8 * i)));
    EXPECT_TRUE(ram.write(at, a));
    out32_be(kDmaHi, static_cast<uint32_t>(at >> 32));
    out32_be(kDmaLo, static_cast<uint32_t>(at));
    uint8_t c[4];
    EXPECT_TRUE(ram.read(at, c));
    return uint32_t{c[0]} << 24 | uint32_t{c[1]} << 16 | uint32_t{c[2]} << 8 | c[3];
  }
  std::vector<uint8_t> bytes(uint64_t at, size_t n) {
    std::vector<uint8_t> v(n);
    EXPECT_TRUE(ram.read(at, v));
    return v;
  }
};

constexpr uint32_t kDmaError = 1, kDmaRead = 2, kDmaSkip = 4, kDmaSelect = 8, kDmaWrite = 16;

TEST(FwCfg, SignatureIsSelectedAtReset) {
  Rig r;
  std::string sig;
  for (int i = 0; i < 4; ++i) sig.push_back(static_cast<char>(r.in8()));
  EXPECT_EQ(sig, "QEMU");
  EXPECT_EQ(r.get_string(FwCfg::kSignature, 4), "QEMU");
  EXPECT_TRUE(r.warnings.empty());
}

TEST(FwCfg, MachineItemsAsKvmUnitTestsReadThem) {
  Rig r;
  EXPECT_EQ(r.get(FwCfg::kId, 4), 3u);  // traditional interface + DMA
  EXPECT_EQ(r.get(FwCfg::kRamSize, 8), 256ull << 20);
  EXPECT_EQ(r.get(FwCfg::kNbCpus, 2), 1u);
  EXPECT_EQ(r.get(FwCfg::kMaxCpus, 2), 1u);
  EXPECT_EQ(r.get(FwCfg::kCmdlineSize, 4), 14u);  // strlen + NUL, as QEMU
  EXPECT_EQ(r.get_string(FwCfg::kCmdlineData, 14), std::string("console=ttyS0\0", 14));
  // 0x11, kvm-unit-tests' FW_CFG_MAX_RAM: no item, reads 0 = no limit.
  EXPECT_EQ(r.get(0x11, 8), 0u);
}

TEST(FwCfg, PastTheEndAndUnknownKeysReadZero) {
  Rig r;
  r.select(FwCfg::kNbCpus);
  EXPECT_EQ(r.in8(), 1);
  EXPECT_EQ(r.in8(), 0);
  EXPECT_EQ(r.in8(), 0);  // past the 2-byte item
  EXPECT_EQ(r.get(0x3fff, 4), 0u);
  EXPECT_EQ(r.get(0x8000, 4), 0u) << "no x86-specific items";
  EXPECT_EQ(r.get(0x4005, 2), 1u) << "bit 14, the old write channel, does not change the item";
}

TEST(FwCfg, SelectingRestartsTheItem) {
  Rig r;
  r.select(FwCfg::kSignature);
  EXPECT_EQ(r.in8(), 'Q');
  EXPECT_EQ(r.in8(), 'E');
  r.select(FwCfg::kSignature);
  EXPECT_EQ(r.in8(), 'Q');
  EXPECT_EQ(r.in8(kSel), 'E') << "QEMU's 2-port window reads data at 0x510 too";
}

TEST(FwCfg, FileDirectoryListsFilesSortedByName) {
  Rig r;
  r.select(FwCfg::kFileDir);
  auto be = [&](int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | r.in8();
    return v;
  };
  ASSERT_EQ(be(4), 2u);
  const char* names[] = {"a/first", "etc/e820"};
  const uint32_t sizes[] = {1, 5};
  for (int f = 0; f < 2; ++f) {
    EXPECT_EQ(be(4), sizes[f]);
    EXPECT_EQ(be(2), FwCfg::kFileFirst + f);
    EXPECT_EQ(be(2), 0u);
    std::string name;
    for (size_t i = 0; i < FwCfg::kFileNameMax; ++i) name.push_back(static_cast<char>(r.in8()));
    EXPECT_EQ(name,
              std::string(names[f]) + std::string(FwCfg::kFileNameMax - strlen(names[f]), '\0'));
  }
  EXPECT_EQ(r.get(FwCfg::kFileFirst + 1, 5), 0x0504030201u);
}

TEST(FwCfg, FileNamesMustFitTheDirectory) {
  FwCfg::Content c;
  c.files[std::string(FwCfg::kFileNameMax, 'x')] = {1};
  VectorMemory ram(4096);
  EXPECT_THROW(FwCfg(c, ram), std::invalid_argument);
}

TEST(FwCfg, DmaRegisterReadsTheSignature) {
  Rig r;
  std::string sig;
  for (uint64_t off = kDmaHi; off < kDmaHi + 8; ++off) sig.push_back(static_cast<char>(r.in8(off)));
  EXPECT_EQ(sig, "QEMU CFG");
  uint8_t b[4];
  r.cfg.read(kDmaLo, b);
  EXPECT_EQ(std::string(b, b + 4), " CFG");
}

TEST(FwCfg, DmaReadSelectsAndCopies) {
  Rig r;
  EXPECT_EQ(r.dma(0x1000, (FwCfg::kRamSize << 16) | kDmaSelect | kDmaRead, 8, 0x2000), 0u);
  EXPECT_EQ(r.bytes(0x2000, 8), (std::vector<uint8_t>{0, 0, 0, 0x10, 0, 0, 0, 0}));
  EXPECT_EQ(r.cfg.save().dma_address, 0u) << "the register is 0 after an operation";
  EXPECT_EQ(r.cfg.save().offset, 8u);
}

TEST(FwCfg, DmaReadPastTheEndZeroFills) {
  Rig r;
  std::vector<uint8_t> junk(16, 0xaa);
  ASSERT_TRUE(r.ram.write(0x3000, junk));
  EXPECT_EQ(r.dma(0x1000, (FwCfg::kSignature << 16) | kDmaSelect | kDmaRead, 10, 0x3000), 0u);
  EXPECT_EQ(r.bytes(0x3000, 12),
            (std::vector<uint8_t>{'Q', 'E', 'M', 'U', 0, 0, 0, 0, 0, 0, 0xaa, 0xaa}));
}

TEST(FwCfg, DmaSkipThenPortRead) {
  Rig r;
  EXPECT_EQ(r.dma(0x1000, (FwCfg::kSignature << 16) | kDmaSelect | kDmaSkip, 2, 0), 0u);
  EXPECT_EQ(r.in8(), 'M');
  EXPECT_EQ(r.dma(0x1000, kDmaRead, 1, 0x2000), 0u) << "continues at the current offset";
  EXPECT_EQ(r.bytes(0x2000, 1)[0], 'U');
  EXPECT_EQ(r.dma(0x1000, 0, 100, 0x2000), 0u) << "no operation asked: nothing done";
}

TEST(FwCfg, DmaWriteIsRefusedItemsAreReadOnly) {
  Rig r;
  ASSERT_TRUE(r.ram.write(0x2000, std::vector<uint8_t>{'X', 'X'}));
  EXPECT_EQ(r.dma(0x1000, (FwCfg::kSignature << 16) | kDmaSelect | kDmaWrite, 2, 0x2000),
            kDmaError);
  EXPECT_EQ(r.get_string(FwCfg::kSignature, 4), "QEMU");
  EXPECT_FALSE(r.warnings.empty());
}

TEST(FwCfg, DmaOutsideRamSetsTheErrorBit) {
  Rig r;
  EXPECT_EQ(r.dma(0x1000, (FwCfg::kSignature << 16) | kDmaSelect | kDmaRead, 4, 0xfff00000),
            kDmaError);
  EXPECT_EQ(r.dma(0x1000, kDmaSelect | kDmaRead, 0x200000, 0x0), kDmaError)
      << "zero fill running off the end of RAM";
  EXPECT_EQ(r.dma(0x1000, kDmaSelect | kDmaRead, 16, ~uint64_t{0} - 4), kDmaError) << "wrap-around";
  size_t before = r.warnings.size();
  r.out32_be(kDmaHi, 0x1);  // the access structure itself outside RAM
  r.out32_be(kDmaLo, 0x0);
  EXPECT_EQ(r.warnings.size(), before + 1);
}

TEST(FwCfg, DmaAddressAs64BitWrite) {
  Rig r;
  // control = NB_CPUS << 16 | select | read, length 2, address 0x2000; all big-endian.
  std::vector<uint8_t> a = {(FwCfg::kNbCpus >> 8) & 0xff,
                            FwCfg::kNbCpus & 0xff,
                            0,
                            kDmaSelect | kDmaRead,
                            0,
                            0,
                            0,
                            2,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0x20,
                            0};
  ASSERT_TRUE(r.ram.write(0x1000, a));
  uint8_t addr[8] = {0, 0, 0, 0, 0, 0, 0x10, 0};
  r.cfg.write(kDmaHi, addr);
  EXPECT_EQ(r.bytes(0x2000, 2), (std::vector<uint8_t>{1, 0}));
  EXPECT_EQ(r.bytes(0x1000, 4), (std::vector<uint8_t>{0, 0, 0, 0}));
}

TEST(FwCfg, BadAccessWidthsWarnAndDoNoHarm) {
  Rig r;
  uint8_t w[4] = {5, 0, 0, 0};
  r.cfg.write(kSel, w);  // 32-bit selector write
  uint8_t b1[1] = {0x42};
  r.cfg.write(kData, b1);  // data register write
  uint8_t r2[2];
  r.cfg.read(kData, r2);  // 16-bit data read
  EXPECT_EQ(r2[0], 0xff);
  uint8_t gap[1];
  r.cfg.read(2, gap);
  EXPECT_EQ(gap[0], 0xff);
  uint8_t two[2] = {0, 0};
  r.cfg.write(kDmaHi + 2, two);
  EXPECT_EQ(r.warnings.size(), 5u);
  EXPECT_EQ(r.in8(), 'Q') << "still the signature, at offset 0";
}

TEST(FwCfg, SaveRestoreRoundTrip) {
  Rig a;
  a.select(FwCfg::kCmdlineData);
  a.in8();
  a.in8();
  Rig b;
  b.cfg.restore(a.cfg.save());
  EXPECT_EQ(b.in8(), 'n');
  EXPECT_EQ(b.cfg.save().selector, FwCfg::kCmdlineData);
  FwCfg::State bogus{0x15, 0xffffffff, 0};
  b.cfg.restore(bogus);
  EXPECT_EQ(b.in8(), 0) << "an offset past the item reads 0";
  EXPECT_EQ(b.dma(0x1000, kDmaRead, 4, 0x2000), 0u);
}

TEST(FwCfg, GarbageNeverCrashes) {
  Rig r;
  std::mt19937_64 rng(7);
  const size_t widths[] = {1, 2, 4, 8};
  for (int i = 0; i < 50000; ++i) {
    uint8_t buf[8];
    for (auto& x : buf) x = static_cast<uint8_t>(rng());
    size_t w = widths[rng() % 4];
    uint64_t off = rng() % FwCfg::kIoSize;
    if (off + w > FwCfg::kIoSize) continue;  // the bus never delivers those
    if (rng() % 2) {
      r.cfg.write(off, std::span<const uint8_t>(buf, w));
    } else {
      r.cfg.read(off, std::span<uint8_t>(buf, w));
    }
    if (i % 1000 == 0) r.warnings.clear();
  }
  EXPECT_EQ(r.get_string(FwCfg::kSignature, 4), "QEMU");
}

}  // namespace
}  // namespace rrvm
