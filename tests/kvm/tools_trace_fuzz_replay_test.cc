// Structure-aware mutants of real recordings through `rrvm replay` (issue
// 15): the same mutator as the trace fuzz test (tests/fuzz/trace_mutator.h),
// fewer cases, as each replay boots a VM. Every outcome must be exit 0, 1
// or 65, with peak RSS under 512 MiB: no crash, no "internal error", and no
// network opened (a mutated "net" option must not reach the host: that
// would be exit 69). A mutant that replays to the end (exit 0) must print a
// prefix of the recording's serial output: a mutant cannot make replay
// claim a match for a run that differs. Seeds: the pit and timerhash guests
// recorded as rrvm records by default (reads left to the device models),
// with --log-values (every value stored) and under --clock virtual.
//
// Time: a guest that spins without exits waiting for an interrupt the
// mutant moved to a later exit is stopped by replay's stall limit (120 s
// without an exit), so the per-case limit here is above that; the figures
// count cases over 10 s.
//
// RRVM_FUZZ_REPLAY_CASES (default 24), RRVM_FUZZ_SEED,
// RRVM_FUZZ_CASE_SECONDS (default 150) and RRVM_FUZZ_AS_MIB (RLIMIT_AS of
// each replay; default none: guest RAM is address space, and a mutant's
// "mem" may then exceed the limit, which must be exit 69 "cannot map")
// change the run; the figures are printed at the end. The 10,000-mutant run in the issue:
//   RRVM_FUZZ_REPLAY_CASES=10000 build/tests/kvm_tools_trace_fuzz_replay_test
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "tests/fuzz/trace_mutator.h"
#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

constexpr uint64_t kRssLimit = 512ull << 20;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

struct Recording {
  std::string name;
  std::vector<uint8_t> bytes;
  std::string serial;
};

Recording record(const std::string& guest, std::vector<std::string> options = {}) {
  std::string name = guest;
  for (const std::string& o : options) name += o;
  std::string path = temp_dir() + "/" + guest + std::to_string(options.size()) + ".rrt";
  std::vector<std::string> args = {"record", "-o", path, "--kernel", guest_path(guest)};
  args.insert(args.end(), options.begin(), options.end());
  CliResult r = run_rrvm(args);
  EXPECT_EQ(r.status, 1) << name << ": " << r.err;
  std::ifstream in(path, std::ios::binary);
  return {name, {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}, r.out};
}

struct Figures {
  uint64_t cases = 0, over_10s = 0, max_rss = 0;
  double slowest = 0;
  std::map<std::string, uint64_t> outcomes;  // "exit 0 (prefix)", "exit 1", ...
  void print() const {
    std::printf("replay fuzz: %llu mutants, max RSS %llu MiB, slowest %.2f s, %llu over 10 s\n",
                (unsigned long long)cases, (unsigned long long)(max_rss >> 20), slowest,
                (unsigned long long)over_10s);
    for (const auto& [what, n] : outcomes)
      std::printf("  %-24s %llu\n", what.c_str(), (unsigned long long)n);
  }
};

// One mutant's replay, checked and counted.
void replay_one(const Recording& seed, const std::string& path, const std::string& what,
                const CliLimits& limits, Figures& fig) {
  CliResult r = run_rrvm({"replay", path}, limits);
  ++fig.cases;
  fig.max_rss = std::max(fig.max_rss, r.max_rss);
  fig.slowest = std::max(fig.slowest, r.seconds);
  if (r.seconds > 10) {
    ++fig.over_10s;
    std::printf("over 10 s (%.1f s, exit %d): %s: %s\n", r.seconds, r.status, seed.name.c_str(),
                what.c_str());
  }
  bool prefix = seed.serial.compare(0, r.out.size(), r.out) == 0;
  std::string outcome = r.timed_out ? "timed out"
                        : r.signal  ? "signal " + std::to_string(r.signal)
                                    : "exit " + std::to_string(r.status);
  if (r.status == 0 && !r.signal) outcome += prefix ? " (prefix)" : " (NOT a prefix)";
  bool ram_over_limit =
      limits.address_space && r.status == 69 && r.err.find("MiB of guest RAM") != std::string::npos;
  if (ram_over_limit) outcome += " (guest RAM over RLIMIT_AS)";
  ++fig.outcomes[outcome];
  EXPECT_FALSE(r.timed_out) << seed.name << ": " << what;
  EXPECT_EQ(r.signal, 0) << seed.name << ": " << what << "\n" << r.err;
  EXPECT_TRUE(r.status == 0 || r.status == 1 || r.status == 65 || ram_over_limit)
      << seed.name << ": " << what << ": " << r.status << "\n"
      << r.err;
  if (!under_asan()) {
    EXPECT_LT(r.max_rss, kRssLimit) << seed.name << ": " << what;
  }
  if (r.status == 0) {
    EXPECT_TRUE(prefix) << seed.name << ": " << what << "\n" << r.out << "\n" << r.err;
  }
}

TEST(TraceFuzzReplay, MutantsOfRecordingsEndWithAVerdict) {
  RRVM_REQUIRE_KVM();
  std::vector<Recording> seeds = {record("pit"), record("timerhash"),
                                  record("timerhash", {"--log-values"}),
                                  record("pit", {"--clock", "virtual"})};
  trace::testing::TraceMutator mutator(env_number("RRVM_FUZZ_SEED", 15));
  uint64_t cases = env_number("RRVM_FUZZ_REPLAY_CASES", 24);
  CliLimits limits{int(env_number("RRVM_FUZZ_CASE_SECONDS", 150)), env_number("RRVM_FUZZ_AS_MIB", 0)
                                                                       << 20};
  Figures fig;
  std::string path = temp_dir() + "/mutant.rrt";
  for (uint64_t i = 0; i < cases; ++i) {
    const Recording& seed = seeds[i % seeds.size()];
    std::vector<uint8_t> mutant = mutator.mutate(seed.bytes);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(mutant.data()), std::streamsize(mutant.size()));
    replay_one(seed, path, mutator.last(), limits, fig);
    if ((i + 1) % 500 == 0 && i + 1 < cases) fig.print();  // a long run shows where it is
  }
  fig.print();
}

}  // namespace
}  // namespace rrvm::test
