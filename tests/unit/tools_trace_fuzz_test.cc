// Structure-aware fuzzing in the suite (issue 15): mutants of sound traces
// (records edited and recompressed with valid checksums, tests/fuzz/
// trace_mutator.h) go through `rrvm info`, `dump`, `verify` and `extract`,
// each a child process with RLIMIT_AS and a time limit. Every outcome must
// be exit 0 or 65 (extract: 64 when the asked-for hash is ambiguous), with
// no signal, no hang, peak RSS under 512 MiB, and verify never accepting
// what info calls damaged. A mutant that only cuts records must dump a
// prefix of the original's events.
//
// RRVM_FUZZ_CASES (default 60) and RRVM_FUZZ_SEED change the run; the
// figures are printed at the end. The 10,000-mutant run in the issue:
//   RRVM_FUZZ_CASES=10000 build/tests/unit_tools_trace_fuzz_test
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>

#include "tests/cli_test_util.h"
#include "tests/fuzz/trace_mutator.h"
#include "tests/unit/trace_test_util.h"

namespace rrvm {
namespace {

using namespace trace::testing;
using test::CliLimits;
using test::CliResult;
using trace::Event;
using trace::HeaderInfo;

constexpr uint64_t kRssLimit = 512ull << 20;
constexpr int kCaseSeconds = 10;

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Seeds: a recording-shaped trace from the writer, one with a multi-part
// blob, and a cut one (no index, no footer).
std::vector<std::vector<uint8_t>> seeds() {
  std::vector<std::vector<uint8_t>> out;
  std::vector<Item> items = random_items(17, 400);
  out.push_back(trace_bytes(items, small_chunks(60)));
  std::vector<uint8_t> image(200 << 10);
  for (size_t i = 0; i < image.size(); ++i) image[i] = uint8_t(i * 7 / 1000);
  std::vector<Item> run(items.end() - 60, items.end());
  HeaderInfo h = test_header();
  h.config[0] = {"mem", std::to_string(64 << 20)};
  h.images = {{"kernel", "k.elf", trace::content_hash(image), image.size()}};
  TraceBuilder t;
  t.header(h).blob("kernel", image, 64 << 10).chunk(run).index().footer(footer_for(run)).trailer();
  out.push_back(t.bytes());
  std::vector<uint8_t> cut = out[0];
  cut.resize(cut.size() * 2 / 3);
  out.push_back(cut);
  return out;
}

struct Figures {
  std::map<std::string, uint64_t> outcomes;  // "verify exit 65" -> count
  uint64_t cases = 0, runs = 0, max_rss = 0;
  double max_seconds = 0;
  std::vector<std::string> failures;
  void fail(const std::string& what) {
    if (failures.size() < 20) failures.push_back(what);
  }
};

class TraceFuzz {
 public:
  explicit TraceFuzz(Figures& f) : fig_(f), dir_(test::temp_dir()) {}

  void one_case(const std::vector<uint8_t>& seed, const std::vector<uint8_t>& mutant,
                const std::string& what) {
    std::string path = dir_ + "/m.rrt";
    spit(path, mutant);
    ++fig_.cases;
    int info = run({"info", path}, what);
    std::string dumped;
    int dump = run({"dump", path}, what, &dumped);
    int verify = run({"verify", path}, what);
    if (verify == 0 && info != 0) fig_.fail("verify accepts what info refuses: " + what);
    if (only_cut(what) && dump == 0 && !is_prefix(dumped, dump_of(seed)))
      fig_.fail("a cut trace dumps events the original does not have: " + what);
    if (auto hash = first_blob(mutant))
      run({"extract", path, "--blob", *hash, "-o", dir_ + "/x"}, what);
    std::filesystem::remove(dir_ + "/x");
  }

 private:
  // Runs one command on the mutant; returns its exit status.
  int run(const std::vector<std::string>& args, const std::string& what,
          std::string* out = nullptr) {
    CliResult r = test::run_rrvm(args, CliLimits{kCaseSeconds, 1ull << 30});
    ++fig_.runs;
    fig_.max_rss = std::max(fig_.max_rss, r.max_rss);
    fig_.max_seconds = std::max(fig_.max_seconds, r.seconds);
    std::string label = args[0] + " (" + what + ")";
    if (r.timed_out) fig_.fail(label + ": no answer within 10 s");
    if (r.signal)
      fig_.fail(label + ": killed by signal " + std::to_string(r.signal) + "\n" + r.err);
    if (!test::under_asan() && r.max_rss > kRssLimit)
      fig_.fail(label + ": peak RSS " + std::to_string(r.max_rss >> 20) + " MiB");
    bool usage = args[0] == "extract" && r.status == 64 &&
                 r.err.find("has a hash starting") != std::string::npos;
    if (!r.signal && r.status != 0 && r.status != 65 && !usage)
      fig_.fail(label + ": exit " + std::to_string(r.status) + "\n" + r.err);
    ++fig_.outcomes[args[0] + " exit " + (r.signal ? "signal" : std::to_string(r.status))];
    if (out) *out = r.out;
    return r.signal ? -1 : r.status;
  }

  const std::string& dump_of(const std::vector<uint8_t>& seed) {
    auto& d = dumps_[seed.size()];
    if (d.empty()) {
      std::string path = dir_ + "/seed.rrt";
      spit(path, seed);
      d = test::run_rrvm({"dump", path}).out;
    }
    return d;
  }

  static bool only_cut(const std::string& what) {
    return what.rfind("cut after record", 0) == 0 && what.find(',') == std::string::npos;
  }
  static bool is_prefix(const std::string& a, const std::string& b) {
    return b.compare(0, a.size(), a) == 0;
  }
  static std::optional<std::string> first_blob(const std::vector<uint8_t>& mutant) {
    TraceBuilder t = TraceBuilder::parse(mutant);
    for (auto& p : t.pieces()) {
      if (p.kind != TraceBuilder::Piece::kRecord) continue;
      auto r = p.msg->getRoot<trace::schema::TraceRecord>();
      // A prefix selects it (extract --blob): a mutated hash can be longer
      // than exec() takes as one argument (128 KiB).
      if (r.isBlob()) return std::string(r.getBlob().getHash().cStr()).substr(0, 64);
    }
    return std::nullopt;
  }

  Figures& fig_;
  std::string dir_;
  std::map<size_t, std::string> dumps_;
};

void print(const Figures& f) {
  std::printf("trace fuzz: %llu mutants, %llu runs, max RSS %llu MiB, slowest %.2f s\n",
              (unsigned long long)f.cases, (unsigned long long)f.runs,
              (unsigned long long)(f.max_rss >> 20), f.max_seconds);
  for (const auto& [what, n] : f.outcomes)
    std::printf("  %-20s %llu\n", what.c_str(), (unsigned long long)n);
}

TEST(TraceFuzz, StructureAwareMutantsGetAClearVerdictInBoundedMemoryAndTime) {
  uint64_t cases = env_number("RRVM_FUZZ_CASES", 60);
  trace::testing::TraceMutator mutator(env_number("RRVM_FUZZ_SEED", 15));
  std::vector<std::vector<uint8_t>> corpus = seeds();
  Figures fig;
  TraceFuzz fuzz(fig);
  for (uint64_t i = 0; i < cases; ++i) {
    const std::vector<uint8_t>& seed = corpus[i % corpus.size()];
    std::vector<uint8_t> mutant = mutator.mutate(seed);
    fuzz.one_case(seed, mutant, mutator.last());
  }
  print(fig);
  for (const auto& f : fig.failures) ADD_FAILURE() << f;
  // The mutants reach past the checksums: some are read whole, some refused.
  EXPECT_GT(fig.outcomes["info exit 0"], 0u);
  EXPECT_GT(fig.outcomes["verify exit 65"], 0u);
}

}  // namespace
}  // namespace rrvm
