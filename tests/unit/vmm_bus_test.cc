#include "vmm/bus.h"

#include <gtest/gtest.h>

#include <vector>

#include "vmm/guest_ram.h"
#include "vmm/machine_config.h"

namespace rrvm {
namespace {

// Remembers the last access and reads back its offset.
class Probe final : public IoDevice {
 public:
  explicit Probe(const char* n) : name_(n) {}
  std::string_view name() const override { return name_; }
  void read(uint64_t offset, std::span<uint8_t> data) override {
    last_offset = offset;
    store_le(data, offset);
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    last_offset = offset;
    last_value = load_le(data);
  }
  const char* name_;
  uint64_t last_offset = ~0ull, last_value = 0;
};

TEST(Bus, DispatchesWithOffsetRelativeToBase) {
  Bus bus("port");
  Probe a("a");
  bus.add(0x3f8, 8, a);
  uint8_t v[1] = {0};
  ASSERT_TRUE(bus.read(0x3fd, v));
  EXPECT_EQ(a.last_offset, 5u);
  EXPECT_EQ(v[0], 5);
  const uint8_t w[2] = {0x34, 0x12};
  ASSERT_TRUE(bus.write(0x3f8, w));
  EXPECT_EQ(a.last_value, 0x1234u);
}

TEST(Bus, UnmappedAndStraddlingAccessesMiss) {
  Bus bus("port");
  Probe a("a");
  bus.add(0x40, 4, a);
  uint8_t v[4] = {0xaa, 0xaa, 0xaa, 0xaa};
  EXPECT_FALSE(bus.read(0x3f, std::span<uint8_t>(v, 1)));
  EXPECT_FALSE(bus.read(0x44, std::span<uint8_t>(v, 1)));
  EXPECT_FALSE(bus.read(0x42, std::span<uint8_t>(v, 4)));  // runs past the end
  EXPECT_EQ(v[0], 0xaa);                                   // untouched on a miss
}

TEST(Bus, RejectsOverlapsAndEmptyRanges) {
  Bus bus("mmio");
  Probe a("a"), b("b");
  bus.add(0x1000, 0x100, a);
  EXPECT_THROW(bus.add(0x10ff, 1, b), BusError);
  EXPECT_THROW(bus.add(0x0f00, 0x101, b), BusError);
  EXPECT_THROW(bus.add(0x2000, 0, b), BusError);
  EXPECT_THROW(bus.add(~0ull - 1, 4, b), BusError);
  EXPECT_NO_THROW(bus.add(0x1100, 0x10, b));
  EXPECT_TRUE(bus.remove(0x1000));
  EXPECT_NO_THROW(bus.add(0x0f00, 0x200, b));
}

TEST(GuestRam, AccessorsAreBoundsChecked) {
  GuestRam ram(4 << 20);
  std::vector<uint8_t> buf(16, 0x5a);
  EXPECT_TRUE(ram.write(0x1000, buf));
  EXPECT_TRUE(ram.write((4 << 20) - 16, buf));
  EXPECT_FALSE(ram.write((4 << 20) - 15, buf));
  EXPECT_FALSE(ram.read(~0ull - 4, buf));
  EXPECT_EQ(ram.host_ptr(4 << 20, 1), nullptr);
  std::vector<uint8_t> out(16);
  ASSERT_TRUE(ram.read(0x1000, out));
  EXPECT_EQ(out, buf);
}

TEST(GuestRam, LargeRamIsSplitAroundTheMmioHole) {
  GuestRam ram(4ull << 30);
  ASSERT_EQ(ram.regions().size(), 2u);
  EXPECT_EQ(ram.regions()[0].size, GuestRam::kLowRamLimit);
  EXPECT_EQ(ram.regions()[1].gpa, GuestRam::kHighRamBase);
  uint8_t b[1] = {1};
  EXPECT_FALSE(ram.write(0xFEC00000, b));  // IOAPIC lives in the hole
  EXPECT_TRUE(ram.write(GuestRam::kHighRamBase, b));
}

TEST(GuestRam, RejectsAbsurdSizes) {
  EXPECT_THROW(GuestRam(1 << 20), std::invalid_argument);
  EXPECT_THROW(GuestRam(1ull << 40), std::invalid_argument);
  EXPECT_THROW(GuestRam((4 << 20) + 1), std::invalid_argument);
}

TEST(ParseSize, AcceptsSuffixesAndRejectsGarbage) {
  EXPECT_EQ(parse_size("256M"), 256ull << 20);
  EXPECT_EQ(parse_size("1G"), 1ull << 30);
  EXPECT_EQ(parse_size("64K"), 64ull << 10);
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_THROW(parse_size(""), std::invalid_argument);
  EXPECT_THROW(parse_size("M"), std::invalid_argument);
  EXPECT_THROW(parse_size("12X"), std::invalid_argument);
  EXPECT_THROW(parse_size("99999999999999999999"), std::invalid_argument);
  EXPECT_THROW(parse_size("17179869184G"), std::invalid_argument);
}

}  // namespace
}  // namespace rrvm
