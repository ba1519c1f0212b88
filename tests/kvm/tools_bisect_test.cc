// rrvm bisect on real guests: a guest built to diverge at a known
// instruction, identical traces, traces of different images, and a trace
// replayed against a changed machine (--override).
#include <gtest/gtest.h>

#include <fstream>

#include "replay/guest_symbols.h"
#include "replay/trace_header.h"
#include "tests/kvm/kvm_test_util.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"

namespace rrvm {
namespace {

using test::guest_path;
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

// Copies a trace, letting `edit` change its events.
void rewrite_trace(const std::string& in, const std::string& out,
                   const std::function<void(trace::StoredEvent&)>& edit) {
  trace::TraceReader reader(in);
  MachineImages images = images_from_trace(reader);
  trace::TraceWriter writer(out, reader.header());
  write_image_blobs(writer, images);
  trace::ReaderSource source(reader);
  while (const trace::ReadEvent* e = source.peek()) {
    trace::StoredEvent copy(*e);
    edit(copy);
    writer.put(copy.view());
    source.pop();
  }
  writer.close(reader.footer().value_or(trace::FooterInfo{}));
}

std::string json_field(const std::string& json, const std::string& key) {
  auto at = json.find("\"" + key + "\": ");
  if (at == std::string::npos) return "";
  at += key.size() + 4;
  if (json[at] == '"') return json.substr(at + 1, json.find('"', at + 1) - at - 1);
  return json.substr(at, json.find_first_of(",}", at) - at);
}

TEST(Bisect, FindsTheInstructionThatReadTheDifferingValue) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  std::string a = record("diverge", dir + "/a.rrt");
  bool edited = false;
  rewrite_trace(a, dir + "/b.rrt", [&](trace::StoredEvent& e) {
    if (!edited && e.event.kind == trace::EventKind::kPortRead && e.event.port() == 0x71) {
      e.event.b ^= 1;  // the other parity: the guest takes the other branch
      edited = true;
    }
  });
  ASSERT_TRUE(edited) << "the diverge guest reads port 0x71";

  auto r = run_rrvm({"bisect", a, dir + "/b.rrt", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream elf(guest_path("diverge") + "64", std::ios::binary);
  std::vector<uint8_t> image((std::istreambuf_iterator<char>(elf)), {});
  auto want = GuestSymbols::from_elf(image).address_of("diverge_read");
  ASSERT_TRUE(want.has_value());
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(*want));
  EXPECT_EQ(json_field(r.out, "rip"), hex) << r.out;
  EXPECT_EQ(json_field(r.out, "symbol"), "diverge_read") << r.out;
  EXPECT_NE(json_field(r.out, "what").find("read of port 0x71"), std::string::npos) << r.out;
  EXPECT_EQ(json_field(r.out, "instruction_found"), "true");

  auto text = run_rrvm({"bisect", a, dir + "/b.rrt"});
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("=> " + std::string(hex)), std::string::npos) << text.out;
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
