// Reverse execution on the replay of a trace, in one process, against one
// straight replay of the same trace (ReplaySession + ReplayTarget, the GDB
// server's target, without gdb):
//  - reverse-stepi latency, from positions spread over the trace: inside an
//    interval (exit N, instruction 3) and right after an exit (exit N,
//    instruction 0: the interval before is single-stepped to find its last
//    instruction) — issue 13's goal is <= 0.5 s;
//  - reverse-continue from the end of the trace to a breakpoint that only
//    the first instruction hits, i.e. over the whole replay — goal <= 2x
//    one replay;
//  - the checkpoints the straight replay took and their memory.
//
// Checkpoints as `rrvm replay --gdb` takes them: every N exits and every
// 0.1 s of replay.
//
//   build/tests/bench/reverse_bench [checkpoint-every]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "replay/replay_session.h"
#include "replay/replay_target.h"
#include "replay/trace_header.h"
#include "tests/bench/bench_util.h"
#include "trace/trace_reader.h"

namespace {

using namespace rrvm;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

class NoInterrupt final : public InterruptCheck {
 public:
  bool requested() override { return false; }
};

class DiscardSink final : public CharSink {
 public:
  void write(uint8_t) override {}
};

struct Trace {
  const char* name;
  std::string record;  // options after `record -o T.rrt --serial none`
};

struct Opened {
  explicit Opened(const std::string& path, uint64_t every)
      : reader(path),
        cfg(config_from_trace(reader.header())),
        images(images_from_trace(reader)),
        session(reader, cfg, images, sink, ReplayOptions{},
                CheckpointPolicy{every, 512ull << 20, 0.1}) {}
  trace::TraceReader reader;
  MachineConfig cfg;
  MachineImages images;
  DiscardSink sink;
  ReplaySession session;
};

std::string stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  char b[96];
  std::snprintf(b, sizeof b, "median %6.3f s  max %6.3f s", v[v.size() / 2], v.back());
  return b;
}

void measure(const Trace& t, uint64_t every) {
  auto dir = std::filesystem::temp_directory_path() / "rrvm-reverse-bench";
  std::filesystem::create_directories(dir);
  std::string path = (dir / (std::string(t.name) + ".rrt")).string();
  bench::rrvm("record -o " + path + " --serial none " + t.record);

  Opened o(path, every);
  uint64_t entry = o.session.vcpu().get_regs().rip;
  auto t0 = Clock::now();
  RunResult end = o.session.run();
  double replay = since(t0);
  uint64_t exits = end.exits;
  size_t cps = o.session.checkpoint_exits().size();
  uint64_t cp_bytes = o.session.checkpoint_bytes();

  ReplayTarget target(o.session);
  NoInterrupt never;
  std::vector<double> inside, after_exit;
  for (int i = 1; i <= 5; ++i) {
    uint64_t e = exits * i / 6;
    for (uint64_t steps : {uint64_t(3), uint64_t(0)}) {
      if (o.session.seek({e, steps})) continue;
      auto t1 = Clock::now();
      target.resume(ResumeKind::kReverseStep, never);
      (steps ? inside : after_exit).push_back(since(t1));
    }
  }

  // Back to the end, then reverse-continue to the entry breakpoint.
  o.session.run();
  std::string why;
  target.insert_breakpoint({BreakpointKind::kHardware, entry, 1}, &why);
  auto t2 = Clock::now();
  StopEvent hit = target.resume(ResumeKind::kReverseContinue, never);
  double rc = since(t2);

  std::printf("%-10s %7llu exits  replay %6.3f s  %zu checkpoints (%llu KiB)\n", t.name,
              (unsigned long long)exits, replay, cps, (unsigned long long)(cp_bytes >> 10));
  if (!inside.empty())
    std::printf("  reverse-stepi inside an interval:   %s\n", stats(inside).c_str());
  if (!after_exit.empty())
    std::printf("  reverse-stepi right after an exit:  %s\n", stats(after_exit).c_str());
  std::printf("  reverse-continue end -> entry:      %6.3f s = %5.2fx one replay (%s)\n", rc,
              rc / replay,
              hit.kind == StopEvent::Kind::kBreakpoint ? "stopped at the entry" : "MISSED");
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t every = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
  std::printf("checkpoints every %llu exits; one run each (times in-process)\n",
              (unsigned long long)every);
  auto guest = [](const char* n) { return std::string(RRVM_GUEST_DIR) + "/" + n + ".elf"; };
  std::vector<Trace> traces = {
      {"pit", "--kernel " + guest("pit")},
      {"timerhash", "--kernel " + guest("timerhash")},
      {"seedboot", "--kernel " + guest("seedboot") + " --net user --clock virtual"},
  };
  for (const auto& t : traces) measure(t, every);
  return 0;
}
