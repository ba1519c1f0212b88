// The machine option table (vmm/machine_config.h): defaults, the trace
// header's pairs, and every value checked against the range the machine
// takes, with errors that name the key, the value and what is accepted.
#include <gtest/gtest.h>

#include <set>

#include "vmm/machine_config.h"

namespace rrvm {
namespace {

// What every trace so far has stored, in this order (to_pairs before the
// table); new keys may only follow.
const std::vector<std::string> kHistoricalKeys = {
    "mem", "cmdline", "mptable", "acpi", "acpi-pic", "rtl8139-timer", "net", "rtc-epoch", "clock"};

std::string error_of(std::string_view key, std::string_view value) {
  MachineConfig c;
  try {
    c.set(key, value);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(MachineConfig, DefaultsAreTheTableDefaults) {
  MachineConfig c;
  EXPECT_EQ(c.mem_size, 256ull << 20);
  EXPECT_EQ(c.mptable, MpTableVariant::fixed);
  EXPECT_TRUE(c.acpi && c.acpi_pic && c.rtl8139_timer);
  EXPECT_EQ(c.net.kind, NetKind::kNone);
  EXPECT_EQ(c.rtc_epoch, 1230768000u);
  EXPECT_EQ(c.clock, ClockMode::kHost);
  EXPECT_EQ(c.cpu, CpuModel::kRrvm64);
  EXPECT_FALSE(c.pc_testdev);
  EXPECT_TRUE(c.hpet);
  EXPECT_EQ(c.serial.kind, SerialKind::kStdio);
  EXPECT_EQ(c.timeout_sec, 0);
  EXPECT_FALSE(c.strict_io);
  EXPECT_TRUE(c.kernel_path.empty() && c.initrd_path.empty() && c.cmdline.empty());
}

TEST(MachineConfig, PairsKeepTheKeyOrderOfExistingTracesAndAddCpuAndTestdev) {
  auto pairs = MachineConfig().to_pairs();
  std::vector<std::string> keys;
  for (const auto& [k, v] : pairs) keys.push_back(k);
  ASSERT_GE(keys.size(), kHistoricalKeys.size() + 2);
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 9), kHistoricalKeys);
  EXPECT_EQ(pairs[0].second, "268435456");  // mem in bytes, as always
  EXPECT_EQ(pairs[9], (std::pair<std::string, std::string>{"cpu", "rrvm64"}));
  EXPECT_EQ(pairs[10], (std::pair<std::string, std::string>{"pc-testdev", "off"}));
  EXPECT_EQ(pairs[11], (std::pair<std::string, std::string>{"hpet", "on"}));
}

TEST(MachineConfig, PairsRoundTripThroughSet) {
  MachineConfig a;
  for (auto [k, v] :
       std::vector<std::pair<std::string, std::string>>{{"mem", "64M"},
                                                        {"cmdline", "console=ttyS0 x=\"y\""},
                                                        {"mptable", "kvm84"},
                                                        {"acpi", "off"},
                                                        {"acpi-pic", "off"},
                                                        {"rtl8139-timer", "off"},
                                                        {"net", "user,hostfwd=tcp::2222-:22"},
                                                        {"rtc-epoch", "0"},
                                                        {"clock", "virtual"},
                                                        {"cpu", "host"},
                                                        {"pc-testdev", "on"},
                                                        {"hpet", "off"}})
    a.set(k, v);
  MachineConfig b;
  for (const auto& [k, v] : a.to_pairs()) b.set(k, v);
  EXPECT_EQ(a.to_pairs(), b.to_pairs());
  EXPECT_EQ(b.mem_size, 64ull << 20);
  EXPECT_EQ(b.net.kind, NetKind::kUser);
  EXPECT_EQ(b.net.spec, "user,hostfwd=tcp::2222-:22");
  EXPECT_EQ(b.cpu, CpuModel::kHost);
  EXPECT_TRUE(b.pc_testdev);
  EXPECT_FALSE(b.hpet);
  EXPECT_EQ(b.clock, ClockMode::kVirtual);
}

// A trace written before cpu and pc-testdev existed (golden-v1.rrt's
// header): the missing keys keep their defaults.
TEST(MachineConfig, AnOldTracesPairsLoadWithDefaultsForNewKeys) {
  MachineConfig c;
  for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"mem", "64M"}, {"mptable", "kvm84"}, {"rtl8139-timer", "off"}, {"clock", "host"}})
    c.set(k, v);
  EXPECT_EQ(c.mem_size, 64ull << 20);
  EXPECT_EQ(c.mptable, MpTableVariant::kvm84);
  EXPECT_FALSE(c.rtl8139_timer);
  EXPECT_EQ(c.cpu, CpuModel::kRrvm64);
  EXPECT_FALSE(c.pc_testdev);
}

TEST(MachineConfig, BadValuesNameTheKeyTheValueAndTheRange) {
  // issue 15 item 10: these reached "internal error: stoull" / "... 0 MiB".
  std::string e = error_of("rtc-epoch", "99999999999999999999");
  EXPECT_NE(e.find("rtc-epoch"), std::string::npos) << e;
  EXPECT_NE(e.find("'99999999999999999999'"), std::string::npos) << e;
  EXPECT_NE(e.find("0 .. 253402300799"), std::string::npos) << e;
  EXPECT_NE(error_of("rtc-epoch", "253402300800"), "");
  EXPECT_NE(error_of("rtc-epoch", "-1"), "");
  EXPECT_NE(error_of("rtc-epoch", "12abc"), "");
  EXPECT_EQ(error_of("rtc-epoch", "253402300799"), "");
  for (const char* mem : {"0", "4096", "1T", "1099511627776", "2097153", "12Q", "-1", ""}) {
    e = error_of("mem", mem);
    EXPECT_NE(e.find("mem takes 2097152 .. 68719476736 bytes"), std::string::npos) << mem << e;
    EXPECT_NE(e.find("multiples of 4096"), std::string::npos) << e;
    EXPECT_NE(e.find(std::string("'") + mem + "'"), std::string::npos) << e;
  }
  EXPECT_EQ(error_of("mem", "2M"), "");
  EXPECT_EQ(error_of("mem", "64G"), "");
  EXPECT_NE(error_of("mptable", "kvm85").find("fixed, kvm84 or none"), std::string::npos);
  EXPECT_NE(error_of("clock", "tsc").find("host or virtual"), std::string::npos);
  EXPECT_NE(error_of("cpu", "qemu64").find("rrvm64 or host"), std::string::npos);
  EXPECT_NE(error_of("pc-testdev", "maybe").find("on or off"), std::string::npos);
  EXPECT_NE(error_of("net", "tap:").find("net"), std::string::npos);
  EXPECT_NE(error_of("net", "user,hostfwd=tcp::99999-:22"), "");
}

TEST(MachineConfig, UnknownKeysListEveryMachineKeyAndHostOptionsAreNotSettable) {
  std::string e = error_of("frobnicate", "1");
  for (const MachineOption& o : machine_option_table()) {
    bool listed = e.find(std::string(o.key)) != std::string::npos;
    EXPECT_EQ(listed, o.scope == OptionScope::kMachine) << o.key << ": " << e;
  }
  EXPECT_NE(e.find("clock"), std::string::npos) << e;  // the old list forgot it
  // A trace must not choose where rrvm writes or what it reads.
  for (const char* host : {"serial", "kernel", "initrd", "timeout", "strict-io"})
    EXPECT_NE(error_of(host, "none").find("unknown machine option"), std::string::npos) << host;
}

TEST(MachineConfig, EveryRowHasAKeyHelpAndAParsableDefault) {
  std::set<std::string_view> keys;
  for (const MachineOption& o : machine_option_table()) {
    EXPECT_TRUE(keys.insert(o.key).second) << "duplicate " << o.key;
    EXPECT_FALSE(o.help.empty()) << o.key;
    EXPECT_TRUE(o.scope != OptionScope::kMachine || o.format) << o.key;
    if (!o.default_value) continue;
    MachineConfig c;
    EXPECT_NO_THROW(o.parse(c, o.key, o.default_value)) << o.key;
    if (o.format) {
      EXPECT_EQ(MachineConfig().to_pairs(), c.to_pairs()) << o.key;
    }
  }
}

TEST(MachineConfig, HostOptionsParseTheirOwnValues) {
  const MachineOption& timeout = *find_machine_option("timeout");
  const MachineOption& serial = *find_machine_option("serial");
  MachineConfig c;
  // issue 15 item 12: --timeout nan was accepted.
  for (const char* bad : {"nan", "NaN", "inf", "-1", "1e400", "", " 1", "1s", "0x10", "31536001"})
    EXPECT_THROW(timeout.parse(c, "timeout", bad), ConfigError) << bad;
  timeout.parse(c, "timeout", "0.5");
  EXPECT_EQ(c.timeout_sec, 0.5);
  serial.parse(c, "serial", "file:/tmp/x");
  EXPECT_EQ(c.serial.kind, SerialKind::kFile);
  EXPECT_EQ(c.serial.path, "/tmp/x");
  for (const char* bad : {"file:", "tty", ""})
    EXPECT_THROW(serial.parse(c, "serial", bad), ConfigError) << bad;
}

TEST(OptionValue, DecimalAcceptsDigitsOnly) {
  EXPECT_EQ(parse_decimal("0"), 0u);
  EXPECT_EQ(parse_decimal("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "18446744073709551616", "1e3", "0x1"})
    EXPECT_EQ(parse_decimal(bad), std::nullopt) << bad;
}

}  // namespace
}  // namespace rrvm
