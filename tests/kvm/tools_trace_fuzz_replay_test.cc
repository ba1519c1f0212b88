// Structure-aware mutants of real recordings through `rrvm replay` (issue
// 15): the same mutator as the trace fuzz test (tests/fuzz/trace_mutator.h),
// fewer cases, as each replay boots a VM. Every outcome must be exit 0, 1
// or 65, with peak RSS under 512 MiB: no crash, no "internal error", and no
// network opened (a mutated "net" option must not reach the host: that
// would be exit 69; the one 69 allowed is the host's answer to a mutated
// CPUID table its KVM cannot show as recorded, which rrvm cannot tell from
// a table recorded on another host: host_refusal()). A mutant that replays
// to the end (exit 0) must print a prefix of the recording's serial output:
// a mutant cannot make replay claim a match for a run that differs. Seeds:
// the pit and timerhash guests recorded as rrvm records by default (reads
// left to the device models), with --log-values (every value stored) and
// under --clock virtual.
//
// Time and memory, the bar: each replay ends within 10 s (replay
// bounds every search by the recorded times around it; the stall limit of
// 120 s without an exit applies only where a trace gives none), and holds
// under 512 MiB resident (measured per case, the child killed above it).
// No RLIMIT_AS by default: guest RAM is address space, not resident, and a
// mutant's "mem" of up to 64 GiB must replay (or fail) as any other.
//
// RRVM_FUZZ_REPLAY_CASES (default 24), RRVM_FUZZ_SEED, RRVM_FUZZ_CASE_SECONDS
// (default 10) and RRVM_FUZZ_AS_MIB (RLIMIT_AS of each replay; a mutant's
// "mem" above it is then exit 69 "cannot map", counted apart) change the
// run. To look into a case: RRVM_FUZZ_ONLY=<seed name> replays only that
// seed's mutants (the others are still made, so the cases stay the same),
// RRVM_FUZZ_KEEP=<dir> keeps every mutant slower than 5 s or failing there
// as <seed>-<case>.rrt. Figures every 500 cases and at the end. The issue's
// 10,000-mutant run:
//   RRVM_FUZZ_REPLAY_CASES=10000 RRVM_FUZZ_SEED=1203 build/tests/kvm_tools_trace_fuzz_replay_test
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
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

const char* env_text(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

struct Figures {
  uint64_t cases = 0, over_5s = 0, max_rss = 0;
  double slowest = 0;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::map<std::string, uint64_t> outcomes;  // "exit 0 (prefix)", "exit 1", ...
  void print() const {
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "replay fuzz: %llu mutants in %.0f s, max RSS %llu MiB, slowest %.2f s, %llu over 5 s\n",
        (unsigned long long)cases, wall, (unsigned long long)(max_rss >> 20), slowest,
        (unsigned long long)over_5s);
    for (const auto& [what, n] : outcomes)
      std::printf("  %-36s %llu\n", what.c_str(), (unsigned long long)n);
    std::fflush(stdout);
  }
};

struct Mutant {
  const Recording& seed;
  uint64_t number;   // the case: which mutant of the run
  std::string path;  // written here
  std::string what;  // its mutations
  std::string name() const { return seed.name + " case " + std::to_string(number); }
};

// Exit 69 that is this host's, not the trace's fault: guest RAM over the
// RLIMIT_AS this test set, or a CPUID table this host's KVM cannot give a
// guest as recorded (a mutated table reads like one from another host):
// features it lacks, a table it refuses, or one it shows otherwise.
std::string host_refusal(const CliResult& r, const CliLimits& limits) {
  if (r.status != 69) return "";
  if (limits.address_space && r.err.find("MiB of guest RAM") != std::string::npos)
    return " (guest RAM over RLIMIT_AS)";
  for (const char* cpu : {"the trace's CPU has features", "the CPU the trace recorded"})
    if (r.err.find(cpu) != std::string::npos) return " (the trace's CPU: not on this host)";
  return "";
}

std::string outcome_of(const CliResult& r, bool prefix, const std::string& refusal) {
  std::string o = r.timed_out       ? "timed out"
                  : r.over_resident ? "killed over the resident limit"
                  : r.signal        ? "signal " + std::to_string(r.signal)
                                    : "exit " + std::to_string(r.status);
  if (r.status == 0 && !r.signal) o += prefix ? " (prefix)" : " (NOT a prefix)";
  return o + refusal;
}

// A slow or failing mutant, kept for a closer look (RRVM_FUZZ_KEEP).
void keep(const Mutant& m, const CliResult& r) {
  const char* dir = env_text("RRVM_FUZZ_KEEP");
  if (!dir) return;
  std::string to = std::string(dir) + "/" + m.seed.name + "-" + std::to_string(m.number) + ".rrt";
  std::filesystem::copy_file(m.path, to, std::filesystem::copy_options::overwrite_existing);
  std::printf("kept %s (%.1f s, exit %d): %s\n", to.c_str(), r.seconds, r.status, m.what.c_str());
}

// One mutant's replay, checked and counted.
void replay_one(const Mutant& m, const CliLimits& limits, Figures& fig) {
  CliResult r = run_rrvm({"replay", m.path}, limits);
  ++fig.cases;
  fig.max_rss = std::max(fig.max_rss, r.max_rss);
  fig.slowest = std::max(fig.slowest, r.seconds);
  bool prefix = m.seed.serial.compare(0, r.out.size(), r.out) == 0;
  std::string refusal = host_refusal(r, limits);
  bool ok = !r.timed_out && !r.signal &&
            (r.status == 0 || r.status == 1 || r.status == 65 || !refusal.empty()) &&
            (under_asan() || r.max_rss < kRssLimit) && (r.status != 0 || prefix);
  ++fig.outcomes[outcome_of(r, prefix, refusal)];
  if (r.seconds > 5) {
    ++fig.over_5s;
    std::printf("over 5 s (%.1f s, exit %d): %s: %s\n", r.seconds, r.status, m.name().c_str(),
                m.what.c_str());
  }
  if (r.seconds > 5 || !ok) keep(m, r);
  EXPECT_TRUE(ok) << m.name() << ": " << m.what << ": " << outcome_of(r, prefix, refusal) << ", "
                  << r.seconds << " s, " << (r.max_rss >> 20) << " MiB resident\n"
                  << r.out << "\n"
                  << r.err;
}

TEST(TraceFuzzReplay, MutantsOfRecordingsEndWithAVerdict) {
  RRVM_REQUIRE_KVM();
  std::vector<Recording> seeds = {record("pit"), record("timerhash"),
                                  record("timerhash", {"--log-values"}),
                                  record("pit", {"--clock", "virtual"})};
  trace::testing::TraceMutator mutator(env_number("RRVM_FUZZ_SEED", 15));
  uint64_t cases = env_number("RRVM_FUZZ_REPLAY_CASES", 24);
  CliLimits limits{int(env_number("RRVM_FUZZ_CASE_SECONDS", 10)),
                   env_number("RRVM_FUZZ_AS_MIB", 0) << 20, kRssLimit};
  const char* only = env_text("RRVM_FUZZ_ONLY");
  Figures fig;
  std::string path = temp_dir() + "/mutant.rrt";
  for (uint64_t i = 0; i < cases; ++i) {
    const Recording& seed = seeds[i % seeds.size()];
    std::vector<uint8_t> mutant = mutator.mutate(seed.bytes);
    if (only && seed.name != only) continue;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(mutant.data()), std::streamsize(mutant.size()));
    replay_one(Mutant{seed, i, path, mutator.last()}, limits, fig);
    if ((i + 1) % 500 == 0 && i + 1 < cases) fig.print();  // a long run shows where it is
  }
  fig.print();
}

}  // namespace
}  // namespace rrvm::test
