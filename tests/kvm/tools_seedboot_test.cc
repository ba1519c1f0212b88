// The seed's boot end to end (tests/guests/seedboot.c, README.md there):
// kvm84's MP table finds no PCI interrupt; the fixed table with the timer
// off ends in the re0 watchdog; with the timer on the guest gets its lease
// and three ping replies. Each outcome is recorded and replayed exactly,
// bisect names the divergence of the seed pairs, and QEMU (which has the
// timer) reaches the replies with the same guest.
#include <gtest/gtest.h>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

bool has(const std::string& out, const std::string& text) {
  return out.find(text) != std::string::npos;
}

struct Outcome {
  CliResult rec, rep;
};

// Records seedboot with `knobs`, then replays the trace.
Outcome record_and_replay(const std::string& dir, const std::string& name,
                          std::vector<std::string> knobs) {
  std::vector<std::string> args = {"record",
                                   "-o",
                                   dir + "/" + name + ".rrt",
                                   "--kernel",
                                   guest_path("seedboot"),
                                   "--net",
                                   "user",
                                   "--acpi-pic",
                                   "off",
                                   "--timeout",
                                   "60"};
  args.insert(args.end(), knobs.begin(), knobs.end());
  Outcome o;
  o.rec = run_rrvm(args);
  o.rep = run_rrvm({"replay", dir + "/" + name + ".rrt"});
  return o;
}

void expect_exact_replay(const Outcome& o) {
  EXPECT_EQ(o.rep.status, 0) << o.rep.err;
  EXPECT_EQ(o.rep.out, o.rec.out) << "replay must print the recording's output byte for byte";
  EXPECT_TRUE(has(o.rep.err, "replay matched the recording")) << o.rep.err;
}

TEST(Seedboot, Kvm84MpTableLeavesNoPciInterrupt) {
  RRVM_REQUIRE_KVM();
  Outcome o = record_and_replay(temp_dir(), "kvm84", {"--mptable", "kvm84"});
  EXPECT_EQ(o.rec.status, 5) << o.rec.out << o.rec.err;  // exit value 2
  EXPECT_TRUE(has(o.rec.out, "mpacpi: switch to APIC mode failed")) << o.rec.out;
  EXPECT_TRUE(has(o.rec.out, "mpbios: bus 0 is type ISA")) << o.rec.out;
  EXPECT_TRUE(has(o.rec.out, "re0: no PCI interrupt routing (no PCI bus in MP table)"))
      << o.rec.out;
  EXPECT_TRUE(has(o.rec.out, "panic:")) << o.rec.out;
  expect_exact_replay(o);
}

TEST(Seedboot, FixedTableWithoutTheTimerEndsInTheWatchdog) {
  RRVM_REQUIRE_KVM();
  Outcome o = record_and_replay(temp_dir(), "notimer", {"--rtl8139-timer", "off"});
  EXPECT_EQ(o.rec.status, 7) << o.rec.out << o.rec.err;  // exit value 3
  EXPECT_TRUE(has(o.rec.out, "re0: interrupting at ioapic 1 pin 18")) << o.rec.out;
  EXPECT_TRUE(has(o.rec.out, "re0: watchdog timeout")) << o.rec.out;
  EXPECT_FALSE(has(o.rec.out, "icmp_seq=2")) << o.rec.out;
  EXPECT_TRUE(has(o.rec.err, "recorded")) << o.rec.err;
  expect_exact_replay(o);
}

TEST(Seedboot, FixedTableWithTheTimerGetsALeaseAndThreeReplies) {
  RRVM_REQUIRE_KVM();
  Outcome o = record_and_replay(temp_dir(), "timer", {"--rtl8139-timer", "on"});
  EXPECT_EQ(o.rec.status, 1) << o.rec.out << o.rec.err;  // exit value 0
  EXPECT_TRUE(has(o.rec.out, "DHCP: lease 10.0.2.15 from 10.0.2.2")) << o.rec.out;
  for (const char* seq : {"icmp_seq=0", "icmp_seq=1", "icmp_seq=2"})
    EXPECT_TRUE(has(o.rec.out, std::string("64 bytes from 10.0.2.2: ") + seq)) << o.rec.out;
  EXPECT_FALSE(has(o.rec.out, "watchdog")) << o.rec.out;
  expect_exact_replay(o);
}

TEST(Seedboot, BisectNamesTheMpTableReadAndTheTimerInterrupt) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir();
  record_and_replay(dir, "kvm84", {"--mptable", "kvm84"});
  CliResult mp = run_rrvm({"bisect", dir + "/kvm84.rrt", "--override", "mptable=fixed", "--json"});
  ASSERT_EQ(mp.status, 0) << mp.err;
  EXPECT_TRUE(has(mp.out, "\"instruction_found\": true")) << mp.out;
  EXPECT_TRUE(has(mp.out, "\"symbol\": \"mp_")) << "an MP table parsing function: " << mp.out;
  EXPECT_TRUE(has(mp.out, "MP configuration table")) << mp.out;

  record_and_replay(dir, "notimer", {"--rtl8139-timer", "off"});
  CliResult t =
      run_rrvm({"bisect", dir + "/notimer.rrt", "--override", "rtl8139-timer=on", "--json"});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_TRUE(has(t.out, "rtl8139")) << "the NIC's interrupt names the device: " << t.out;
  EXPECT_TRUE(has(t.out, "\"instruction_found\": true")) << t.out;
}

TEST(Seedboot, QemuWithItsRtl8139ReachesTheReplies) {
  RRVM_REQUIRE_KVM();
  CliResult qemu =
      run_command({"qemu-system-x86_64", "-accel", "tcg", "-kernel", guest_path("seedboot"),
                   "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-serial", "stdio",
                   "-display", "none", "-no-reboot", "-m", "64", "-netdev", "user,id=n0", "-device",
                   "rtl8139,netdev=n0,mac=52:54:00:12:34:56"},
                  180);
  if (qemu.status == 127) GTEST_SKIP() << "qemu-system-x86_64 is not installed (reference only)";
  EXPECT_EQ(qemu.status, 1) << qemu.out << qemu.err;
  EXPECT_TRUE(has(qemu.out, "64 bytes from 10.0.2.2: icmp_seq=2")) << qemu.out;
}

}  // namespace
}  // namespace rrvm::test
