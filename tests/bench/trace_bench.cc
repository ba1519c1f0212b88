// Trace writer speed and trace size, side by side in one run (Google
// Benchmark; the machine is shared, so compare rows of the same run):
//  - BM_AppendBurst: events per second the producer (vCPU thread) appends
//    while the ring has room (target >= 20 M/s; "waits" must stay 0);
//  - BM_AppendSustained: the same for a long run, compression included;
//  - BM_MixEncoded: bytes per event of a realistic mix (PIT counter reads
//    with their clock reads, serial status polls around output, timer
//    interrupts, landmarks, digests) after zstd at levels 1/3/9, unpacked
//    vs packed Cap'n Proto, and a few chunk sizes (target <= 4 bytes/event);
//  - BM_WriterMix/level: the same mix through TraceWriter into a file.
// Run: build-*/tests/bench/trace_bench [--benchmark_filter=Mix]
#include <benchmark/benchmark.h>
#include <capnp/serialize-packed.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "trace/chunk_codec.h"
#include "trace/frame_io.h"
#include "trace/trace_writer.h"

namespace rrvm::trace {
namespace {

std::string bench_path(const char* tag) {
  return (std::filesystem::temp_directory_path() /
          ("rrvm-trace-bench-" + std::to_string(getpid()) + tag + ".rrt"))
      .string();
}

HeaderInfo header() {
  HeaderInfo h;
  h.rrvm_version = "bench";
  h.config = {{"mem", "256M"}, {"clock", "host"}};
  return h;
}

// What a timer-driven guest makes the recorder log, per 1 ms tick (host
// clock): the timer interrupt injected at an exit, with the clock read that
// advanced the timers; a PIT latch + two counter reads (one clock read, the
// byte values as modelled); three UART LSR polls around a byte of output
// (as modelled); a register digest every 256 exits; and every 50th tick an
// asynchronous kick: clock read, landmark, interrupt at the landmark.
// kStored stores every read value instead; kVirtualClock is --clock virtual,
// where time comes from exit counts: no clock reads, no asynchronous kicks.
enum Mix { kStored = 0, kModelled = 1, kVirtualClock = 2 };
const char* const kMixNames[] = {", values stored", "", ", virtual clock"};

template <typename Sink>
uint64_t realistic_mix(Sink&& sink, uint64_t ticks, Mix mix = kModelled) {
  bool modelled = mix != kStored, clock = mix != kVirtualClock;
  std::mt19937_64 rng(1);
  uint64_t ord = 0, now = 1'000'000'000, events = 0, next_digest = 256;
  auto put = [&](const Event& e) { sink(e, nullptr), ++events; };
  for (uint64_t t = 0; t < ticks; ++t) {
    now += 1'000'000 + rng() % 5000;
    if (clock) put(Event::clock_read(++ord, 1, now));
    put(Event::interrupt(ord, 0x20, false));
    uint64_t read_at = now + 20'000 + rng() % 3000;
    if (clock) put(Event::clock_read(++ord, 0, read_at));
    uint16_t count = uint16_t(1193 - (read_at - now) * 1193 / 1'000'000);
    put(Event::port_read(ord, 0x40, 1, count & 0xff, modelled));
    put(Event::port_read(++ord, 0x40, 1, count >> 8, modelled));
    for (int i = 0; i < 3; ++i) put(Event::port_read(++ord, 0x3fd, 1, 0x60, modelled));
    if (ord >= next_digest) {  // the recorder's default: every 256 exits
      put(Event::reg_digest(ord, rng()));
      next_digest += 256;
    }
    if (clock && t % 50 == 49) {  // a virtual clock fires timers at exits only
      LandmarkData lm;
      lm.rip = 0x100000 + rng() % 4096;
      lm.rflags = 0x202;
      lm.gprs[0] = t;
      lm.mem_digest = rng();
      lm.hits = 1;
      if (clock) put(Event::clock_read(ord, 2, now + 500'000));
      sink(Event::landmark(ord), &lm), ++events;
      put(Event::interrupt(ord, 0x20, true));
    }
  }
  return events;
}

void BM_AppendBurst(benchmark::State& state) {
  std::string path = bench_path("burst");
  WriterOptions o;
  o.ring_events = size_t{1} << 20;
  o.level = 1;
  TraceWriter w(path, header(), o);
  const uint64_t burst = 1 << 19;  // fits in the ring
  uint64_t n = 0;
  for (auto _ : state) {
    for (uint64_t i = 0; i < burst; ++i, ++n)
      w.append(Event::port_read(n, 0x40, 1, n & 0xff, true));
    state.PauseTiming();
    w.flush();  // empty the ring, outside the timing
    state.ResumeTiming();
  }
  state.counters["waits"] = double(w.producer_waits());
  state.counters["events_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsRate);
  w.close({});
  std::filesystem::remove(path);
}
BENCHMARK(BM_AppendBurst)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AppendSustained(benchmark::State& state) {
  std::string path = bench_path("sustained");
  TraceWriter w(path, header());
  uint64_t n = 0;
  for (auto _ : state) {
    n += realistic_mix(
        [&](const Event& e, const LandmarkData* lm) {
          if (lm)
            w.append_landmark(e, *lm);
          else
            w.append(e);
        },
        10'000);
  }
  w.close({});
  state.counters["waits"] = double(w.producer_waits());
  state.counters["events_per_s"] = benchmark::Counter(double(n), benchmark::Counter::kIsRate);
  std::filesystem::remove(path);
}
BENCHMARK(BM_AppendSustained)->Unit(benchmark::kMillisecond)->UseRealTime();

// The mix as chunk records of the writer's default size, serialized
// unpacked or packed, then compressed: the bytes a trace spends on events.
void BM_MixEncoded(benchmark::State& state) {
  int level = int(state.range(0));
  bool packed = state.range(1) != 0;
  auto mode = Mix(state.range(2));
  std::vector<std::pair<Event, LandmarkData>> mix;
  uint64_t events =
      realistic_mix([&](const Event& e,
                        const LandmarkData* lm) { mix.emplace_back(e, lm ? *lm : LandmarkData{}); },
                    50'000, mode);
  CCtx cctx(ZSTD_createCCtx());
  uint64_t raw = 0, compressed = 0;
  size_t chunk = size_t(state.range(3));
  for (auto _ : state) {
    raw = compressed = 0;
    ChunkEncoder enc;
    for (size_t from = 0; from < mix.size(); from += chunk) {
      enc.clear();
      for (size_t i = from; i < mix.size() && i < from + chunk; ++i) {
        if (mix[i].first.kind == EventKind::kLandmark)
          enc.add_landmark(mix[i].first, mix[i].second);
        else
          enc.add(mix[i].first);
      }
      capnp::MallocMessageBuilder msg;
      enc.finish(msg.initRoot<schema::TraceRecord>().initChunk());
      kj::VectorOutputStream out;
      if (packed)
        capnp::writePackedMessage(out, msg);
      else
        capnp::writeMessage(out, msg);
      auto bytes = out.getArray();
      raw += bytes.size();
      compressed += compress_frame({bytes.begin(), bytes.size()}, cctx.get(), level).size();
    }
  }
  uint64_t pit_reads = 0;
  for (const auto& [e, lm] : mix) pit_reads += e.kind == EventKind::kPortRead && e.port() == 0x40;
  // DESIGN.md's yardstick: QEMU record/replay spends about 9 KB on 120,000 PIT reads.
  state.counters["KB_per_120k_PIT_reads"] = double(compressed) / double(pit_reads) * 120'000 / 1000;
  state.counters["raw_B_per_event"] = double(raw) / double(events);
  state.counters["B_per_event"] = double(compressed) / double(events);
  state.counters["events_per_s"] =
      benchmark::Counter(double(events) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(std::string("zstd ") + std::to_string(level) + (packed ? " packed" : " unpacked") +
                 kMixNames[mode] + ", " + std::to_string(chunk) + " events/chunk");
}
constexpr int64_t kChunk = int64_t(WriterOptions{}.chunk_events);
BENCHMARK(BM_MixEncoded)
    ->ArgNames({"level", "packed", "mix", "chunk"})
    ->ArgsProduct({{1, 3, 9}, {0, 1}, {kModelled}, {kChunk}})
    ->Args({3, 0, kStored, kChunk})
    ->Args({3, 0, kVirtualClock, kChunk})
    ->ArgsProduct({{3}, {0}, {kModelled, kVirtualClock}, {8192, 131072}})
    ->Unit(benchmark::kMillisecond);

// End to end through TraceWriter: file bytes beyond an empty trace's.
void BM_WriterMix(benchmark::State& state) {
  WriterOptions o;
  o.level = int(state.range(0));
  std::string path = bench_path("mix"), empty = bench_path("empty");
  { TraceWriter(empty, header(), o).close({}); }
  uint64_t events = 0;
  for (auto _ : state) {
    TraceWriter w(path, header(), o);
    events = realistic_mix(
        [&](const Event& e, const LandmarkData* lm) {
          if (lm)
            w.append_landmark(e, *lm);
          else
            w.append(e);
        },
        50'000);
    w.close({});
  }
  double bytes = double(std::filesystem::file_size(path) - std::filesystem::file_size(empty));
  state.counters["B_per_event"] = bytes / double(events);
  state.counters["KiB_per_1M_events"] = bytes / double(events) * 1e6 / 1024;
  state.counters["events_per_s"] =
      benchmark::Counter(double(events) * double(state.iterations()), benchmark::Counter::kIsRate);
  std::filesystem::remove(path);
  std::filesystem::remove(empty);
}
BENCHMARK(BM_WriterMix)->Arg(1)->Arg(3)->Arg(9)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace rrvm::trace

BENCHMARK_MAIN();
