// The CLI's error policy without KVM (issue 15 items 10, 11, 12, 15): a bad
// value typed is 64, in a trace 65, a missing or unusable input 66, an output
// that cannot be created 73, and nothing a user types or a trace holds reaches
// "internal error" (70, which is for guest crashes).
#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/tools_test_util.h"

namespace rrvm::test {
namespace {

std::string trace_with(const std::string& name,
                       std::vector<std::pair<std::string, std::string>> config) {
  return write_small_trace(temp_dir() + "/" + name, small_header(std::move(config)));
}

std::string good_trace() {
  static const std::string path = trace_with("good.rrt", small_header().config);
  return path;
}

std::string file_with(const std::string& name, const std::string& text) {
  std::string path = temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

void expect_no_internal_error(const CliResult& r) {
  EXPECT_NE(r.status, 70) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
}

// Item 10: a trace's value out of range names key, value and range (in bytes
// for mem) and is a corrupt trace, not a crash.
TEST(CliErrors, OutOfRangeValuesInATraceAre65) {
  struct Case {
    const char* key;
    const char* value;
    const char* range;
  } cases[] = {{"rtc-epoch", "99999999999999999999", "0 .. 253402300799"},
               {"rtc-epoch", "253402300800", "0 .. 253402300799"},
               {"mem", "0", "2097152 .. 68719476736 bytes"},
               {"mem", "4096", "2097152 .. 68719476736 bytes"},
               {"mem", "1099511627776", "2097152 .. 68719476736 bytes"},
               {"mem", "67108865", "multiples of 4096"}};
  for (const Case& c : cases) {
    std::string t = trace_with("bad.rrt", {{c.key, c.value}});
    for (auto args : {std::vector<std::string>{"replay", t},
                      {"bisect", t, good_trace()},
                      {"bisect", good_trace(), t}}) {
      CliResult r = run_rrvm(args);
      EXPECT_EQ(r.status, 65) << args[0] << " " << c.key << "=" << c.value << ": " << r.err;
      expect_no_internal_error(r);
      EXPECT_NE(r.err.find(t + ": machine configuration: " + c.key), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(std::string("'") + c.value + "'"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(c.range), std::string::npos) << r.err;
      // A configuration error is not a trace error "at byte 0" (issue 15 items 14, 15).
      EXPECT_EQ(r.err.find("at byte"), std::string::npos) << r.err;
    }
  }
}

TEST(CliErrors, OutOfRangeValuesTypedAre64) {
  for (auto kv : {"rtc-epoch=99999999999999999999", "mem=0", "mem=4096", "mem=1T", "mem=2097153"}) {
    CliResult r = run_rrvm({"bisect", good_trace(), "--override", kv});
    EXPECT_EQ(r.status, 64) << kv << ": " << r.err;
    EXPECT_TRUE(r.err.find("bytes (2M .. 64G)") != std::string::npos ||
                r.err.find("0 .. 253402300799") != std::string::npos)
        << r.err;
    expect_no_internal_error(r);
  }
  CliResult u = run_rrvm({"bisect", good_trace(), "--override", "frobnicate=1"});
  EXPECT_EQ(u.status, 64);
  EXPECT_NE(u.err.find("clock"), std::string::npos) << "known keys listed: " << u.err;
  EXPECT_NE(u.err.find("pc-testdev"), std::string::npos) << u.err;
  for (auto mem : {"0", "4096", "1T", "2097153"}) {
    CliResult r = run_rrvm({"run", "--kernel", "x", "--mem", mem});
    EXPECT_EQ(r.status, 64) << mem << ": " << r.err;
    EXPECT_NE(r.err.find("--mem takes 2097152 .. 68719476736 bytes"), std::string::npos) << r.err;
  }
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--rtc-epoch", "-1"}).status, 64);
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--cpu", "qemu64"}).status, 64);
  EXPECT_EQ(run_rrvm({"run", "--kernel", "x", "--pc-testdev", "maybe"}).status, 64);
}

// Item 11: a directory where a file belongs, or an output directory that
// cannot be made.
TEST(CliErrors, UnusablePathsAre66And73) {
  std::string dir = temp_dir();
  for (auto args : {std::vector<std::string>{"run", "--kernel", dir},
                    {"run", "--kernel", file_with("k", "x"), "--initrd", dir},
                    {"run", "--kernel", "x", "--config", dir},
                    {"bisect", good_trace(), good_trace(), "--symbols", dir}}) {
    CliResult r = run_rrvm(args);
    EXPECT_EQ(r.status, 66) << args[1] << " " << args[2] << ": " << r.err;
    EXPECT_NE(r.err.find("cannot read " + dir), std::string::npos) << r.err;
    expect_no_internal_error(r);
  }
  // demo checks its guests first: give it one.
  std::string guests = temp_dir();
  std::ofstream(guests + "/seedboot.elf") << "x";
  CliResult d = run_command({RRVM_EXE, "demo", "--dir", "/proc/nonexistent/x"}, 60,
                            {"RRVM_GUEST_DIR=" + guests});
  EXPECT_EQ(d.status, 73) << d.err;
  EXPECT_NE(d.err.find("cannot create directory /proc/nonexistent/x"), std::string::npos) << d.err;
  CliResult s = run_rrvm(
      {"run", "--kernel", file_with("k2", "x"), "--serial", "file:/nonexistent/dir/serial.txt"});
  EXPECT_EQ(s.status, 73) << s.err;
}

// Item 12: Boost parsed "-1" into an unsigned option by wrapping it.
TEST(CliErrors, NegativeAndNonFiniteNumbersAre64) {
  std::string t = good_trace(), k = file_with("k3", "x");
  for (auto args : {std::vector<std::string>{"replay", "--until", "-1", t},
                    {"replay", "--until=-1", t},
                    {"dump", "--from", "-5", t},
                    {"dump", "--to=-1", t},
                    {"dump", "--from", "1e3", t},
                    {"bisect", t, t, "--max-steps", "-1"},
                    {"record", "-o", temp_dir() + "/r.rrt", "--kernel", k, "--reg-digest-every=-1"},
                    {"run", "--kernel", k, "--timeout", "nan"},
                    {"run", "--kernel", k, "--timeout", "inf"},
                    {"run", "--kernel", k, "--timeout=-1"},
                    {"run", "--kernel", k, "--timeout", "1e400"}}) {
    CliResult r = run_rrvm(args);
    EXPECT_EQ(r.status, 64) << args[1] << " " << args[2] << ": " << r.err;
    EXPECT_NE(r.err.find("takes"), std::string::npos) << r.err;
  }
  CliResult ok = run_rrvm({"dump", "--from", "0", "--to", "18446744073709551615", t});
  EXPECT_EQ(ok.status, 0) << ok.err;
}

// rrvm replay --gdb: a bad endpoint or checkpoint option is a usage error
// before any machine is built.
TEST(CliErrors, ReplayGdbOptionsAre64) {
  std::string t = good_trace();
  for (auto args : {std::vector<std::string>{"replay", t, "--gdb", "nonsense"},
                    {"replay", t, "--gdb", "127.0.0.1:99999"},
                    {"replay", t, "--gdb", "-", "--checkpoint-memory", "lots"},
                    {"replay", t, "--gdb", "-", "--checkpoint-every=-1"}}) {
    CliResult r = run_rrvm(args);
    EXPECT_EQ(r.status, 64) << args[2] << " " << args[3] << ": " << r.err;
  }
}

// Item 15: one guard for every command; bisect no longer turns any
// runtime_error into "missing file".
TEST(CliErrors, BisectSortsMissingFromMalformed) {
  std::string t = good_trace();
  CliResult missing = run_rrvm({"bisect", t, t, "--symbols", "/nonexistent/System.map"});
  EXPECT_EQ(missing.status, 66) << missing.err;
  CliResult bad = run_rrvm({"bisect", t, t, "--symbols", file_with("map", "not-hex T x\n")});
  EXPECT_EQ(bad.status, 65) << bad.err;
  EXPECT_NE(bad.err.find(":1: 'not-hex' is not a hexadecimal address"), std::string::npos)
      << bad.err;
  CliResult no_trace = run_rrvm({"bisect", t, "/nonexistent/b.rrt"});
  EXPECT_EQ(no_trace.status, 66) << no_trace.err;
  CliResult corrupt = run_rrvm({"bisect", t, file_with("junk.rrt", "not a trace at all")});
  EXPECT_EQ(corrupt.status, 65) << corrupt.err;
  EXPECT_NE(corrupt.err.find("junk.rrt: "), std::string::npos)
      << "names the bad one: " << corrupt.err;
}

TEST(CliErrors, EveryTraceCommandMapsTheSameWay) {
  std::string junk = file_with("junk2.rrt", "not a trace at all");
  for (const char* cmd : {"info", "dump", "verify", "replay"}) {
    CliResult missing = run_rrvm({cmd, "/nonexistent/t.rrt"});
    EXPECT_EQ(missing.status, 66) << cmd << ": " << missing.err;
    CliResult corrupt = run_rrvm({cmd, junk});
    EXPECT_EQ(corrupt.status, 65) << cmd << ": " << corrupt.err;
    EXPECT_NE(corrupt.err.find("rrvm: error: " + junk + ": "), std::string::npos) << corrupt.err;
    CliResult usage = run_rrvm({cmd, junk, "--bogus"});
    EXPECT_EQ(usage.status, 64) << cmd << ": " << usage.err;
  }
}

}  // namespace
}  // namespace rrvm::test
