// The guest-booting commands' --json outputs parse and say how the run
// ended; the machine options added through the table reach the trace; and
// an output that cannot be created is 73 (issue 12 item 9, issue 15 items
// 11, 13).
#include <gtest/gtest.h>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

TEST(CliJson, RunRecordReplayAndBisectPrintJsonThatParses) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir(), t = dir + "/hello.rrt";
  CliResult run = run_rrvm({"run", "--json", "--kernel", guest_path("hello"), "--timeout", "60"});
  EXPECT_EQ(run.status, 1) << run.err;
  EXPECT_TRUE(parses_as_json(run.out));  // serial output is off with --json
  EXPECT_EQ(json_keys(run.out), "completions exit_status exits guest_status message reason");
  EXPECT_NE(run.out.find("\"reason\": \"guest exit\", \"guest_status\": 1, \"exit_status\": 1"),
            std::string::npos)
      << run.out;

  CliResult rec = run_rrvm({"record", "--json", "-o", t, "--kernel", guest_path("hello")});
  EXPECT_EQ(rec.status, 1) << rec.err;
  EXPECT_TRUE(parses_as_json(rec.out));
  EXPECT_NE(rec.out.find("\"trace\": \"" + t + "\""), std::string::npos) << rec.out;

  CliResult rep = run_rrvm({"replay", "--json", t});
  EXPECT_EQ(rep.status, 0) << rep.err;
  EXPECT_TRUE(parses_as_json(rep.out));
  EXPECT_NE(rep.out.find("\"matched\": true"), std::string::npos) << rep.out;

  CliResult same = run_rrvm({"bisect", "--json", t, t});
  EXPECT_EQ(same.status, 3) << same.err;
  EXPECT_TRUE(parses_as_json(same.out));
}

// The diverge guest branches on the RTC's seconds: one second more in the
// RTC epoch (an option the table gave the CLI) parts the executions there.
TEST(CliJson, BisectReportWithDisassemblyParses) {
  RRVM_REQUIRE_KVM();
  std::string a = temp_dir() + "/a.rrt";
  CliResult rec =
      run_rrvm({"record", "-o", a, "--serial", "none", "--kernel", guest_path("diverge"), "--clock",
                "virtual", "--rtc-epoch", "1230768000"});
  ASSERT_EQ(rec.status, 1) << rec.err;
  CliResult b = run_rrvm({"bisect", a, "--override", "rtc-epoch=1230768001", "--json"});
  EXPECT_EQ(b.status, 0) << b.err;
  EXPECT_TRUE(parses_as_json(b.out));
  EXPECT_NE(b.out.find("\"symbol\": \"diverge_read\""), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("\"divergent\": true"), std::string::npos) << b.out;
}

// --cpu, --pc-testdev and --hpet came in through the option table: they are stored
// in the header, in to_pairs order after the keys older traces hold.
TEST(CliJson, NewMachineOptionsAreStoredInTheTrace) {
  RRVM_REQUIRE_KVM();
  std::string t = temp_dir() + "/opts.rrt";
  CliResult rec = run_rrvm({"record", "-o", t, "--serial", "none", "--kernel", guest_path("hello"),
                            "--cpu", "rrvm64", "--pc-testdev", "off", "--rtc-epoch", "0"});
  ASSERT_EQ(rec.status, 1) << rec.err;
  CliResult info = run_rrvm({"info", t});
  EXPECT_NE(info.out.find(" rtc-epoch=0 clock=host cpu=rrvm64 pc-testdev=off hpet=on\n"),
            std::string::npos)
      << info.out;
}

TEST(CliJson, OutputsThatCannotBeCreatedAre73) {
  RRVM_REQUIRE_KVM();
  CliResult r = run_rrvm({"record", "-o", "/nonexistent/dir/t.rrt", "--serial", "none", "--kernel",
                          guest_path("hello")});
  EXPECT_EQ(r.status, 73) << r.err;
  EXPECT_NE(r.err.find("cannot create /nonexistent/dir/t.rrt"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rrvm::test
