// config_from_trace: a trace keeps the machine it was recorded on, also one
// written before a key existed (its guest never saw what the key adds).
#include <gtest/gtest.h>

#include "replay/trace_header.h"
#include "trace/trace_reader.h"

namespace rrvm {
namespace {

trace::HeaderInfo header_with(std::vector<std::pair<std::string, std::string>> config) {
  trace::HeaderInfo h;
  h.config = std::move(config);
  return h;
}

// golden-v1.rrt (format 1.0) predates the HPET: it replays without one,
// though a machine built today has one by default.
TEST(TraceHeader, ATraceFromBeforeTheHpetReplaysWithoutOne) {
  trace::TraceReader reader(std::string(RRVM_SOURCE_DIR) + "/tests/data/golden-v1.rrt");
  MachineConfig cfg = config_from_trace(reader.header());
  EXPECT_FALSE(cfg.hpet);
  EXPECT_TRUE(MachineConfig{}.hpet) << "the default machine has an HPET";
}

TEST(TraceHeader, AKeyTheTraceHasWinsOverTheValueForOldTraces) {
  EXPECT_TRUE(config_from_trace(header_with({{"mem", "64M"}, {"hpet", "on"}})).hpet);
  EXPECT_FALSE(config_from_trace(header_with({{"mem", "64M"}, {"hpet", "off"}})).hpet);
  MachineConfig old = config_from_trace(header_with({{"mem", "64M"}}));
  EXPECT_FALSE(old.hpet);
  EXPECT_EQ(old.mem_size, 64ull << 20);
  EXPECT_TRUE(old.acpi) << "keys without an old-trace value keep their defaults";
}

// Recording writes every machine key, so a new trace never depends on
// absent_from_trace: what was recorded is what comes back.
TEST(TraceHeader, EveryMachineKeyRoundTrips) {
  MachineConfig cfg;
  cfg.hpet = true;
  MachineConfig back = config_from_trace(header_with(cfg.to_pairs()));
  EXPECT_EQ(back.to_pairs(), cfg.to_pairs());
  EXPECT_TRUE(back.hpet);
}

}  // namespace
}  // namespace rrvm
