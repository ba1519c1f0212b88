// What a trace stores (trace/trace.capnp, "What a trace stores"), end to
// end: every guest records and replays byte for byte whether its read values
// are left to the device models or all stored (--log-values); an idle guest
// under --clock virtual stores only its halts, digests and exit; format 1.0
// traces still replay; a trace made by other device models says so.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>

#include "replay/device_models.h"
#include "tests/kvm/kvm_test_util.h"
#include "tests/kvm/trace_rewrite.h"
#include "trace/event_stream.h"
#include "trace/trace_reader.h"

namespace rrvm::test {
namespace {

using trace::EventKind;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Events by kind, progress marks left out (they fall where the host's
// once-a-second flush puts them).
std::map<EventKind, uint64_t> counts(const std::string& path) {
  trace::TraceReader reader(path);
  trace::ReaderSource source(reader);
  std::map<EventKind, uint64_t> n;
  for (; source.peek(); source.pop())
    if (source.peek()->event.kind != EventKind::kProgress) ++n[source.peek()->event.kind];
  return n;
}

// Records `guest` with `options`, replays it; both print the same.
void record_and_replay(const std::string& guest, const std::vector<std::string>& options) {
  std::string path = temp_dir() + "/" + guest + ".rrt";
  std::vector<std::string> args = {"record", "-o", path, "--kernel", guest_path(guest)};
  args.insert(args.end(), options.begin(), options.end());
  CliResult rec = run_rrvm(args);
  ASSERT_TRUE(rec.status == 1 || rec.status == 9) << guest << ": " << rec.err;
  CliResult rep = run_rrvm({"replay", path});
  EXPECT_EQ(rep.status, 0) << guest << ": " << rep.err;
  EXPECT_EQ(rep.out, rec.out) << guest << " replayed something else";
  bool logged = std::find(options.begin(), options.end(), "--log-values") != options.end();
  trace::TraceReader reader(path);
  EXPECT_EQ(reader.header().reads_modelled, !logged);
  EXPECT_EQ(counts(path)[EventKind::kPortRead] > 0, logged) << guest;
}

const char* const kGuests[] = {"hello",           "pit",      "iobench",  "timerhash",
                               "timerhash_lapic", "platform", "seedboot", "diverge"};

TEST(TraceValues, EveryGuestReplaysByteForByteWithValuesLeftToTheModels) {
  RRVM_REQUIRE_KVM();
  for (const char* g : kGuests) record_and_replay(g, {});
}

TEST(TraceValues, EveryGuestReplaysByteForByteWithEveryValueStored) {
  RRVM_REQUIRE_KVM();
  for (const char* g : kGuests) record_and_replay(g, {"--log-values"});
}

// The size goal as counts: a guest with no external input, under a
// virtual clock, stores no read, no clock value and no interrupt; pit its
// 100 halts (it waits for each tick in HLT) and its exit, iobench (no
// halts, 20,263 exits) a register and a memory digest every 4096 exits.
TEST(TraceValues, IdleGuestUnderVirtualClockStoresOnlyHaltsDigestsAndItsExit) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir();
  for (const char* guest : {"pit", "iobench"}) {
    std::string path = dir + "/" + guest + ".rrt";
    CliResult rec = run_rrvm({"record", "--clock", "virtual", "--json", "--serial", "none", "-o",
                              path, "--kernel", guest_path(guest)});
    ASSERT_EQ(rec.status, 1) << rec.err;
    std::map<EventKind, uint64_t> n = counts(path);
    trace::TraceReader reader(path);
    ASSERT_TRUE(reader.footer());
    uint64_t exits = reader.footer()->exits, digests = exits / 4096;
    for (EventKind k : {EventKind::kPortRead, EventKind::kMmioRead, EventKind::kClockRead,
                        EventKind::kInterrupt, EventKind::kLandmark})
      EXPECT_EQ(n[k], 0u) << guest << ": " << trace::kind_name(k);
    EXPECT_EQ(n[EventKind::kRegDigest], digests) << guest;
    EXPECT_EQ(n[EventKind::kMemDigest], digests) << guest;
    EXPECT_EQ(n[EventKind::kGuestExit], 1u) << guest;
    uint64_t halts = std::string(guest) == "pit" ? 100 : 0;
    EXPECT_EQ(n[EventKind::kTimeSkip], halts) << guest;
    uint64_t total = 0;
    for (auto& [k, c] : n) total += c;
    EXPECT_EQ(total, halts + 2 * digests + 1) << guest;
    if (!halts) {
      EXPECT_LT(double(total) / double(exits), 0.001) << guest << ": events per exit";
    }
  }
}

// Traces written by rrvm before format 1.1 (every value stored) replay
// exactly: host and virtual clock, interrupts at exits and at landmarks.
TEST(TraceValues, Format10TracesStillReplay) {
  RRVM_REQUIRE_KVM();
  std::string data = std::string(RRVM_SOURCE_DIR) + "/tests/data/v1.0/";
  struct Case {
    const char* trace;
    const char* out;
  } cases[] = {{"pit-v1.0-host.rrt", "pit.out"},
               {"pit-v1.0-virtual.rrt", "pit.out"},
               {"timerhash-v1.0-host.rrt", "timerhash-v1.0-host.out"}};
  for (const Case& c : cases) {
    trace::TraceReader reader(data + c.trace);
    EXPECT_EQ(reader.header().format_minor, 0) << c.trace;
    EXPECT_FALSE(reader.header().reads_modelled) << c.trace;
    CliResult r = run_rrvm({"replay", data + c.trace});
    EXPECT_EQ(r.status, 0) << c.trace << ": " << r.err;
    EXPECT_EQ(r.out, slurp(data + c.out)) << c.trace;
    EXPECT_EQ(r.err.find("device models"), std::string::npos) << c.trace << ": " << r.err;
  }
}

// A trace whose reads were left to other device models says so before
// replaying; one with every value stored does not need to.
TEST(TraceValues, OtherDeviceModelsAreNamedUpFront) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir();
  for (bool logged : {false, true}) {
    std::string path = dir + "/pit.rrt", other = dir + "/other.rrt";
    std::vector<std::string> args = {"record", "-o", path, "--kernel", guest_path("pit")};
    if (logged) args.push_back("--log-values");
    ASSERT_EQ(run_rrvm(args).status, 1);
    EXPECT_EQ(trace::TraceReader(path).header().device_models, device_models_version());
    rewrite_trace(path, other, {},
                  [](trace::HeaderInfo& h) { h.device_models = "0123456789abcdef"; });
    CliResult r = run_rrvm({"replay", other});
    EXPECT_EQ(r.status, 0) << r.err;  // the models are the same in fact
    bool noted = r.err.find(
                     "note: the trace leaves its read values to the device models that "
                     "recorded it (models 0123456789abcdef)") != std::string::npos;
    EXPECT_EQ(noted, !logged) << r.err;
  }
}

}  // namespace
}  // namespace rrvm::test
