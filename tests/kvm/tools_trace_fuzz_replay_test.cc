// Structure-aware mutants of real recordings through `rrvm replay` (issue
// 15): the same mutator as the trace fuzz test (tests/fuzz/trace_mutator.h),
// fewer cases, as each replay boots a VM. Every outcome must be exit 0, 1
// or 65, with peak RSS under 512 MiB: no crash, no "internal error", and no
// network opened (a mutated "net" option must not reach the host: that
// would be exit 69). A mutant that only cuts records must replay a prefix of
// the original's serial output. Time: a guest that spins without exits
// waiting for an interrupt the mutant moved to a later exit is only
// stopped by replay's stall limit (120 s without an exit), so that is the
// bound here; the figures count cases over 10 s.
//
// RRVM_FUZZ_REPLAY_CASES (default 24) and RRVM_FUZZ_SEED change the run.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "tests/fuzz/trace_mutator.h"
#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

constexpr uint64_t kRssLimit = 512ull << 20;
constexpr int kCaseSeconds = 150;  // replay's stall limit (120 s) and margin

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

struct Recording {
  std::vector<uint8_t> bytes;
  std::string serial;
};

Recording record(const std::string& guest) {
  std::string path = temp_dir() + "/" + guest + ".rrt";
  CliResult r = run_rrvm({"record", "-o", path, "--kernel", guest_path(guest)});
  EXPECT_EQ(r.status, 1) << r.err;
  std::ifstream in(path, std::ios::binary);
  return {{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()}, r.out};
}

TEST(TraceFuzzReplay, MutantsOfRecordingsEndWithAVerdict) {
  RRVM_REQUIRE_KVM();
  std::vector<Recording> seeds = {record("pit"), record("timerhash")};
  trace::testing::TraceMutator mutator(env_number("RRVM_FUZZ_SEED", 15));
  uint64_t cases = env_number("RRVM_FUZZ_REPLAY_CASES", 24);
  std::map<int, uint64_t> outcomes;
  uint64_t max_rss = 0;
  double slowest = 0;
  uint64_t over_10s = 0;
  std::string path = temp_dir() + "/mutant.rrt";
  for (uint64_t i = 0; i < cases; ++i) {
    const Recording& seed = seeds[i % seeds.size()];
    std::vector<uint8_t> mutant = mutator.mutate(seed.bytes);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(mutant.data()), std::streamsize(mutant.size()));
    CliResult r = run_rrvm({"replay", path}, CliLimits{kCaseSeconds, 0});
    std::string what = mutator.last();
    ++outcomes[r.signal ? -r.signal : r.status];
    max_rss = std::max(max_rss, r.max_rss);
    slowest = std::max(slowest, r.seconds);
    over_10s += r.seconds > 10;
    EXPECT_FALSE(r.timed_out) << what;
    EXPECT_EQ(r.signal, 0) << what << "\n" << r.err;
    EXPECT_TRUE(r.status == 0 || r.status == 1 || r.status == 65)
        << what << ": " << r.status << "\n"
        << r.err;
    if (!under_asan()) {
      EXPECT_LT(r.max_rss, kRssLimit) << what;
    }
    bool only_cut = what.rfind("cut after record", 0) == 0 && what.find(',') == std::string::npos;
    if (only_cut && r.status == 0) {
      EXPECT_EQ(seed.serial.compare(0, r.out.size(), r.out), 0) << what << "\n" << r.out;
    }
  }
  std::printf("replay fuzz: %llu mutants, max RSS %llu MiB, slowest %.2f s, %llu over 10 s\n",
              (unsigned long long)cases, (unsigned long long)(max_rss >> 20), slowest,
              (unsigned long long)over_10s);
  for (const auto& [status, n] : outcomes)
    std::printf("  exit %d: %llu\n", status, (unsigned long long)n);
}

}  // namespace
}  // namespace rrvm::test
