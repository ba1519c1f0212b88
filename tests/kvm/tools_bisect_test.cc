// rrvm bisect on real guests: a guest built to diverge at a known
// instruction, identical traces, traces of different images, and a trace
// replayed against a changed machine (--override).
#include <gtest/gtest.h>

#include <fstream>

#include "replay/guest_symbols.h"
#include "replay/trace_header.h"
#include "tests/kvm/kvm_test_util.h"
#include "tests/kvm/trace_rewrite.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

namespace rrvm {
namespace {

using test::CliResult;
using test::guest_path;
using test::rewrite_trace;
using test::run_rrvm;

std::string record(const std::string& guest, const std::string& out,
                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"record",         "-o", out, "--serial", "none", "--kernel",
                                   guest_path(guest)};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_rrvm(args);
  EXPECT_EQ(r.status, 1) << r.err;  // the guests exit with status 0: (0 << 1) | 1
  return out;
}

std::string json_field(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return "";
  at += key.size() + 4;
  if (json[at] == '"') return json.substr(at + 1, json.find('"', at + 1) - at - 1);
  return json.substr(at, json.find_first_of(",}", at) - at);
}

// The address of the diverge guest's `diverge_read` label, as bisect prints it.
std::string diverge_read_address() {
  std::ifstream elf(guest_path("diverge") + "64", std::ios::binary);
  std::vector<uint8_t> image((std::istreambuf_iterator<char>(elf)), {});
  auto want = GuestSymbols::from_elf(image).address_of("diverge_read");
  EXPECT_TRUE(want.has_value());
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(want.value_or(0)));
  return hex;
}

// Bisect named the IN of diverge_read, reading the RTC seconds.
void expect_the_rtc_read(const CliResult& r) {
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_field(r.out, "rip"), diverge_read_address()) << r.out;
  EXPECT_EQ(json_field(r.out, "symbol"), "diverge_read") << r.out;
  EXPECT_NE(json_field(r.out, "what").find("read of port 0x71"), std::string::npos) << r.out;
  EXPECT_EQ(json_field(r.out, "instruction_found"), "true");
}

// A --log-values trace stores the value: edit it, and bisect finds the
// instruction that read it.
TEST(Bisect, FindsTheInstructionThatReadTheDifferingValue) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  std::string a = record("diverge", dir + "/a.rrt", {"--log-values"});
  bool edited = false;
  rewrite_trace(a, dir + "/b.rrt", [&](trace::StoredEvent& e) {
    if (!edited && e.event.kind == trace::EventKind::kPortRead && e.event.port() == 0x71) {
      e.event.b ^= 1;  // the other parity: the guest takes the other branch
      edited = true;
    }
  });
  ASSERT_TRUE(edited) << "the diverge guest reads port 0x71";

  auto r = run_rrvm({"bisect", a, dir + "/b.rrt", "--json"});
  expect_the_rtc_read(r);
  std::string hex = diverge_read_address();

  auto text = run_rrvm({"bisect", a, dir + "/b.rrt"});
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("=> " + std::string(hex)), std::string::npos) << text.out;
}

// bisect --gdb: after the report, gdb gets side A stopped right before
// the divergent instruction, and can step it and back.
TEST(Bisect, GdbGetsSideAAtTheDivergentInstruction) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  std::string a = record("diverge", dir + "/a.rrt", {"--clock", "virtual"});
  std::string b =
      record("diverge", dir + "/b.rrt", {"--clock", "virtual", "--rtc-epoch", "1230768001"});
  CliResult r = test::run_command(
      {"gdb", "-batch", "-nx", "-ex",
       "target remote | " + std::string(RRVM_EXE) + " bisect " + a + " " + b + " --gdb -", "-ex",
       "printf \"pc=%#lx\\n\", $pc", "-ex", "stepi", "-ex", "reverse-stepi", "-ex",
       "printf \"back=%#lx\\n\", $pc"},
      120);
  std::string all = r.out + r.err;
  EXPECT_NE(all.find("divergent instruction: " + diverge_read_address()), std::string::npos)
      << "the report comes first (on stderr with --gdb -): " << all;
  EXPECT_NE(all.find("pc=" + diverge_read_address()), std::string::npos) << all;
  EXPECT_NE(all.find("back=" + diverge_read_address()), std::string::npos) << all;
}

// Reads left to the models (the default): two recordings of machines whose
// RTCs read differently (power-on an odd second apart) hold no read values,
// and bisect still names the read, comparing the two sides' models live.
TEST(Bisect, ModelledTracesOfMachinesThatReadDifferentlyNameTheRead) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  std::string a = record("diverge", dir + "/a.rrt", {"--clock", "virtual"});
  std::string b =
      record("diverge", dir + "/b.rrt", {"--clock", "virtual", "--rtc-epoch", "1230768001"});
  trace::TraceReader reader(a);
  EXPECT_TRUE(reader.header().reads_modelled);
  trace::ReaderSource events(reader);
  for (; events.peek(); events.pop())
    EXPECT_NE(events.peek()->event.kind, trace::EventKind::kPortRead) << "no read is stored";
  expect_the_rtc_read(run_rrvm({"bisect", a, b, "--json"}));
}

// --override on a modelled trace: side B's RTC answers from its own model.
TEST(Bisect, OverrideOnAModelledTraceNamesTheRead) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  std::string a = record("diverge", dir + "/a.rrt", {"--clock", "virtual"});
  expect_the_rtc_read(run_rrvm({"bisect", a, "--override", "rtc-epoch=1230768001", "--json"}));
}

TEST(Bisect, IdenticalTracesReportNoDivergence) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  std::string a = record("diverge", dir + "/a.rrt");
  auto r = run_rrvm({"bisect", a, a});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("no divergence"), std::string::npos) << r.out;
}

TEST(Bisect, RefusesTracesOfDifferentImages) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  std::string a = record("diverge", dir + "/a.rrt");
  std::string b = record("hello", dir + "/b.rrt");
  auto r = run_rrvm({"bisect", a, b});
  EXPECT_EQ(r.status, 64);
  EXPECT_NE(r.err.find("different guest images"), std::string::npos) << r.err;
}

TEST(Bisect, BadInputsGetClearErrors) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  EXPECT_EQ(run_rrvm({"bisect", dir + "/missing.rrt", dir + "/x.rrt"}).status, 66);
  std::ofstream(dir + "/junk.rrt") << "not a trace";
  EXPECT_EQ(run_rrvm({"bisect", dir + "/junk.rrt", dir + "/junk.rrt"}).status, 65);
  std::string a = record("diverge", dir + "/a.rrt");
  EXPECT_EQ(run_rrvm({"bisect", a}).status, 64);
  EXPECT_EQ(run_rrvm({"bisect", a, "--override", "mptable"}).status, 64);
  EXPECT_EQ(run_rrvm({"bisect", a, "--override", "nosuch=1"}).status, 64);
}

TEST(Bisect, OverrideOfAnUnreadTableChangesMemoryButNotTheExecution) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  std::string a = record("diverge", dir + "/a.rrt", {"--mptable", "kvm84"});
  auto r = run_rrvm({"bisect", a, "--override", "mptable=fixed"});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("MP configuration table"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace rrvm
