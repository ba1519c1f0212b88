// Recording overhead and replay speed, whole-program: `rrvm run`, `record`
// and `replay` of the same guest, interleaved, several repetitions, medians,
// reported as ratios from this one run (targets: record <= 1.05x run;
// replay <= 1.0x record for busy guests). Also trace bytes per exit.
//
//   build/tests/bench/record_bench [repetitions]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"

namespace {

double run_seconds(const std::vector<std::string>& args) {
  std::fflush(stdout);  // or the child would print our buffered lines again
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    FILE* null = std::freopen("/dev/null", "w", stdout);
    (void)null;
    null = std::freopen("/dev/null", "w", stderr);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(RRVM_EXE, argv.data());
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

using bench::median;

void bench_guest(const std::string& guest, int reps) {
  std::string kernel = std::string(RRVM_GUEST_DIR) + "/" + guest + ".elf";
  std::string trace =
      (std::filesystem::temp_directory_path() / ("rrvm-bench-" + guest + ".rrt")).string();
  std::vector<double> run, record, replay;
  for (int i = 0; i < reps; ++i) {
    run.push_back(run_seconds({RRVM_EXE, "run", "--kernel", kernel, "--serial", "none"}));
    record.push_back(
        run_seconds({RRVM_EXE, "record", "-o", trace, "--kernel", kernel, "--serial", "none"}));
    replay.push_back(run_seconds({RRVM_EXE, "replay", trace, "--serial", "none"}));
  }
  double run_s = median(run), rec_s = median(record), rep_s = median(replay);
  std::printf(
      "%-10s run %7.3f s  record %7.3f s  replay %7.3f s  record/run %.3f  replay/record %.3f  "
      "trace %ju bytes\n",
      guest.c_str(), run_s, rec_s, rep_s, rec_s / run_s, rep_s / rec_s,
      static_cast<uintmax_t>(std::filesystem::file_size(trace)));
  std::filesystem::remove(trace);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  std::printf("medians of %d interleaved repetitions (whole process, incl. start-up)\n", reps);
  for (const char* g : {"iobench", "timerhash", "pit"}) bench_guest(g, reps);
  return 0;
}
