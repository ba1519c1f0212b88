// Bisect cost against one replay: for each pair of executions, `rrvm replay
// A` and `rrvm bisect A B` (or A --override ...), interleaved, several
// repetitions, medians, as a ratio from this one run (target: bisect <= 3x
// one replay; issue 13: <= 1.5x). Also the number of single-stepped
// instructions and, from the last bisect's report, its phases' seconds.
//
//   build/tests/bench/bisect_bench [repetitions]
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"

namespace {

using bench::json_field;
using bench::median;
using bench::rrvm;

struct Pair {
  const char* name;
  std::string record_a;  // options after `record -o A.rrt`
  std::string record_b;  // options for B, or empty
  std::string override;  // --override KEY=VALUE, or empty
};

std::string guest(const char* name) {
  return std::string(RRVM_GUEST_DIR) + "/" + name + ".elf";
}

// Records `trace`; exits when no trace was written (a benchmark of a stale
// trace, or of none, would print figures that mean nothing).
void record(const std::string& trace, const std::string& options) {
  std::filesystem::remove(trace);
  rrvm("record -o " + trace + " --serial none " + options);
  if (!std::filesystem::exists(trace)) {
    std::fprintf(stderr, "bisect_bench: rrvm record %s wrote no trace\n", options.c_str());
    std::exit(1);
  }
}

void measure(const std::filesystem::path& dir, const Pair& p, int reps) {
  std::string stem = p.name;
  std::replace(stem.begin(), stem.end(), ' ', '-');  // the paths go through a shell
  std::string a = (dir / (stem + "-a.rrt")).string();
  std::string b = (dir / (stem + "-b.rrt")).string();
  record(a, p.record_a);
  std::string bisect_args = "bisect --json " + a + " ";
  if (!p.record_b.empty()) {
    record(b, p.record_b);
    bisect_args += b;
  } else {
    bisect_args += "--override " + p.override;
  }
  std::vector<double> replay, bisect;
  std::string report;
  for (int i = 0; i < reps; ++i) {
    replay.push_back(rrvm("replay --serial none " + a).first);
    auto [s, out] = rrvm(bisect_args);
    bisect.push_back(s);
    report = out;
  }
  double rep = median(replay), bis = median(bisect);
  std::printf(
      "%-22s replay %6.3f s  bisect %6.3f s  bisect/replay %5.2f  exit %s  stepped %s  %s\n"
      "%-22s   phases: lockstep %s s, replay %s s, single-step %s s\n",
      p.name, rep, bis, bis / rep, json_field(report, "first_differing_exit").c_str(),
      json_field(report, "instructions_stepped").c_str(),
      json_field(report, "diverged") == "true" ? "diverged" : "identical", "",
      json_field(report, "lockstep").c_str(), json_field(report, "replay").c_str(),
      json_field(report, "single_step").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  std::printf("medians of %d interleaved repetitions (whole process, incl. start-up)\n", reps);
  std::string seed = "--kernel " + guest("seedboot") + " --net user --clock virtual ";
  std::vector<Pair> pairs = {
      {"timerhash A vs B", "--kernel " + guest("timerhash"), "--kernel " + guest("timerhash"), ""},
      {"seed kvm84 vs fixed", seed + "--mptable kvm84", "", "mptable=fixed"},
      {"seed timer off vs on", seed + "--rtl8139-timer off", "", "rtl8139-timer=on"},
  };
  // A directory of its own: other runs of this benchmark may share /tmp.
  std::string tmpl = (std::filesystem::temp_directory_path() / "rrvm-bisect-bench.XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    std::perror("bisect_bench: mkdtemp");
    return 1;
  }
  for (const auto& p : pairs) measure(tmpl, p, reps);
  std::filesystem::remove_all(tmpl);
  return 0;
}
