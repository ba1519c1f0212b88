// What rrvm info / dump / verify print (trace/trace_inspect.h).
#include <gtest/gtest.h>

#include <sstream>

#include "tests/unit/trace_test_util.h"
#include "trace/trace_inspect.h"

namespace rrvm::trace {
namespace {

using namespace testing;

std::vector<Item> small_run() {
  std::vector<Item> items;
  auto add = [&](Event e, std::string side = "") {
    items.push_back({e, std::vector<uint8_t>(side.begin(), side.end()), {}});
  };
  add(Event::clock_read(1, 0, 1'000'000));
  add(Event::port_read(1, 0x40, 1, 0x3c, true));
  add(Event::port_read(2, 0x3fd, 1, 0x60));
  add(Event::mmio_read(3, 0xfee000b0, 4, 0));
  add(Event::msr_read(4, 0x1b, 0xfee00900));
  add(Event::interrupt(5, 0x20, false));
  add(Event::console_input(6), "a\n");
  add(Event::dma_write(7, 0x1000), std::string("\x01\x02", 2));
  items.push_back({Event::landmark(8), {}, {}});
  items.back().landmark.rip = 0x100123;
  items.back().landmark.hits = 2;
  add(Event::interrupt(8, 0x21, true));
  add(Event::reg_digest(9, 0xabc));
  add(Event::note(9), "say \"hi\"");
  add(Event::guest_exit(10, 0, 1), "guest exit 0");
  return items;
}

std::string dump_of(TraceReader& r, DumpFilter f = {}, bool json = false) {
  std::ostringstream out;
  dump(r, f, json, out);
  return out.str();
}

TEST(TraceInspect, DumpPrintsOneLinePerEventWithNamedFields) {
  std::string path = temp_path("dump.rrt");
  write_trace(path, small_run());
  TraceReader r(path);
  std::string d = dump_of(r);
  EXPECT_NE(d.find("#1 clock-read source=0 value=1000000\n"), std::string::npos) << d;
  EXPECT_NE(d.find("#1 port-read port=0x40 size=1 modelled\n"), std::string::npos);
  EXPECT_NE(d.find("#2 port-read port=0x3fd size=1 value=0x60\n"), std::string::npos);
  EXPECT_NE(d.find("#3 mmio-read addr=0xfee000b0 size=4 value=0x0\n"), std::string::npos);
  EXPECT_NE(d.find("#4 msr-read msr=0x1b value=0xfee00900\n"), std::string::npos);
  EXPECT_NE(d.find("#5 interrupt vector=0x20 at=\"exit\"\n"), std::string::npos);
  EXPECT_NE(d.find("#6 console-input bytes=2 text=\"a\\u000a\"\n"), std::string::npos);
  EXPECT_NE(d.find("#7 dma-write gpa=0x1000 bytes=2 data=\"0102\"\n"), std::string::npos);
  EXPECT_NE(d.find("#8 landmark rip=0x100123 hits=2 cpl=0"), std::string::npos);
  EXPECT_NE(d.find("#8 interrupt vector=0x21 at=\"landmark\"\n"), std::string::npos);
  EXPECT_NE(d.find("#9 reg-digest digest=0xabc\n"), std::string::npos);
  EXPECT_NE(d.find("#9 note text=\"say \\\"hi\\\"\"\n"), std::string::npos);
  EXPECT_NE(d.find("#10 guest-exit code=0 detail=1 reason=\"guest exit 0\"\n"), std::string::npos);
  EXPECT_EQ(std::count(d.begin(), d.end(), '\n'), long(small_run().size()));
  std::filesystem::remove(path);
}

TEST(TraceInspect, DumpFiltersByOrdinalRangeAndKind) {
  std::string path = temp_path("filter.rrt");
  write_trace(path, small_run());
  TraceReader r(path);
  std::string d = dump_of(r, {.from = 2, .to = 5, .kind = std::nullopt});
  EXPECT_EQ(d.rfind("#2 ", 0), 0u) << d;
  EXPECT_EQ(std::count(d.begin(), d.end(), '\n'), 4);
  d = dump_of(r, {.from = std::nullopt, .to = std::nullopt, .kind = EventKind::kInterrupt});
  EXPECT_EQ(d, "#5 interrupt vector=0x20 at=\"exit\"\n#8 interrupt vector=0x21 at=\"landmark\"\n");
  std::filesystem::remove(path);
}

TEST(TraceInspect, DumpJsonHasTypedFields) {
  std::string path = temp_path("json.rrt");
  write_trace(path, small_run());
  TraceReader r(path);
  std::string d = dump_of(r, {.from = std::nullopt, .to = 2, .kind = EventKind::kPortRead}, true);
  EXPECT_EQ(
      d,
      "{\"ordinal\": 1, \"kind\": \"port-read\", \"port\": 64, \"size\": 1, \"modelled\": true}\n"
      "{\"ordinal\": 2, \"kind\": \"port-read\", \"port\": 1021, \"size\": 1, \"value\": 96}\n");
  std::filesystem::remove(path);
}

TEST(TraceInspect, InfoShowsWhatAPersonNeeds) {
  std::string path = temp_path("info.rrt");
  write_trace(path, small_run());
  TraceReader r(path);
  TraceSummary s = summarize(r);
  std::string t = info_text("boot.rrt", r, s);
  for (const char* want :
       {"trace: boot.rrt\n", "status: complete\n",
        "format: 1.1, written by rrvm test on 2023-11-14 22:13:20 UTC\n",
        "values: every read and clock value stored\n",
        "host: Linux 6.1.0 x86_64; Test CPU @ 1.00GHz\n",
        " mem=256M mptable=fixed clock=virtual acpi=on\n", "cpuid: 2 leaves\n",
        "host probe: 5 ring-0 instructions tried; emulation-failure: int3, cmpxchg16b (cx16); "
        "faults: clac (smap)\n",
        "host forced CPUID flags: pni xsave smap\n", "image: kernel k.elf (3 B, hash ",
        "events: 13 in 1 chunk, exit ordinals 1..10\n",
        "  port-read                 2  (1 as modelled)\n", "  interrupt                 2\n",
        " bytes/event; ", "end: guest exit -3 (guest status -3) after 11 exits\n"}) {
    EXPECT_NE(t.find(want), std::string::npos) << "missing: " << want << "\n" << t;
  }
  std::string j = info_json("boot.rrt", r, s);
  EXPECT_NE(j.find("\"complete\": true"), std::string::npos) << j;
  EXPECT_NE(j.find("\"counts\": {\"port-read\": 2, \"mmio-read\": 1"), std::string::npos) << j;
  EXPECT_NE(j.find("{\"instruction\": \"clac\", \"feature\": \"smap\", \"outcome\": "
                   "\"faults\", \"vector\": 6}"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"config\": [[\"mem\", \"256M\"], [\"mptable\", \"fixed\"]"),
            std::string::npos);
  std::filesystem::remove(path);
}

TEST(TraceInspect, VerifyAcceptsASoundTraceAndNamesProblems) {
  std::string path = temp_path("verify.rrt");
  write_trace(path, random_items(8, 2000), small_chunks(100));
  std::vector<uint8_t> bytes = slurp(path);
  {
    TraceReader r(bytes);
    VerifyResult v = verify(r);
    EXPECT_TRUE(v.problems.empty()) << v.problems.front();
    EXPECT_EQ(v.summary.events, 2001u);
    EXPECT_NE(verify_json(path, v).find("\"ok\": true"), std::string::npos);
  }
  {
    TraceReader r(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(bytes.size() / 2)));
    VerifyResult v = verify(r);
    ASSERT_FALSE(v.problems.empty());
    EXPECT_NE(v.problems.front().find("incomplete: truncated at byte"), std::string::npos);
  }
  {
    // Damage inside a chunk in the middle: the index still opens the trace,
    // the chunk's checksum fails when verify reads it.
    std::vector<uint8_t> bad = bytes;
    bad[bytes.size() / 2] ^= 0x10;
    TraceReader r(bad);
    VerifyResult v = verify(r);
    ASSERT_FALSE(v.problems.empty());
    EXPECT_NE(v.problems.front().find(" at byte "), std::string::npos) << v.problems.front();
    EXPECT_TRUE(v.summary.error);
  }
  std::filesystem::remove(path);
}

TEST(TraceInspect, JsonEscapeKeepsControlCharactersOut) {
  EXPECT_EQ(json_escape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\u000a\\u0001");
}

}  // namespace
}  // namespace rrvm::trace
