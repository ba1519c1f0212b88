// Network under `run` vs `record`: the seedboot guest with "flood" on its
// command line gets a DHCP lease and sends 200 pings to the slirp gateway,
// each as soon as the previous reply arrived. Interleaved repetitions,
// medians, ratios from this one run; whole process (boot and DHCP included).
// Also trace bytes per received frame (all of the trace's event chunks,
// images excluded, divided by the packets it holds).
//
//   build/tests/bench/net_bench [repetitions]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"

namespace {

using bench::median;
using bench::rrvm;

long json_number(const std::string& json, const std::string& key) {
  return std::atol(bench::json_field(json, key).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  std::string guest = std::string(RRVM_GUEST_DIR) + "/seedboot.elf";
  std::string trace = (std::filesystem::temp_directory_path() / "rrvm-net-bench.rrt").string();
  std::string machine = " --kernel " + guest + " --net user --cmdline flood --serial stdio";
  std::vector<double> run, record;
  std::string out;
  for (int i = 0; i < reps; ++i) {
    run.push_back(rrvm("run" + machine).first);
    auto r = rrvm("record -o " + trace + machine);
    record.push_back(r.first);
    out = r.second;
  }
  double run_s = median(run), rec_s = median(record);
  std::string info = rrvm("info --json " + trace).second;
  long packets = json_number(info, "packet"), chunk_bytes = json_number(info, "chunk_bytes");
  auto at = out.find("flood: ");
  std::printf("medians of %d interleaved repetitions (whole process: boot, DHCP, 200 pings)\n",
              reps);
  std::printf("%s", at == std::string::npos ? "flood: no result line\n"
                                            : out.substr(at, out.find('\n', at) - at + 1).c_str());
  std::printf("run    %6.3f s  %6.1f pings/s  %5.2f ms per round trip (incl. boot)\n", run_s,
              200 / run_s, run_s * 1000 / 200);
  std::printf("record %6.3f s  %6.1f pings/s  record/run %.3f\n", rec_s, 200 / rec_s,
              rec_s / run_s);
  if (packets > 0)
    std::printf("trace: %ld received frames, %ld bytes of event chunks: %.1f bytes per frame\n",
                packets, chunk_bytes, double(chunk_bytes) / double(packets));
  std::filesystem::remove(trace);
  return 0;
}
