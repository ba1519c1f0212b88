// Trace writer throughput and size, in one run (Google Benchmark):
//  - Append: events per second the producer (vCPU thread) appends, with the
//    background thread compressing (target >= 20 M/s);
//  - Mix/level: encoded bytes per event for a realistic mix (PIT counter
//    reads with their clock reads, serial LSR polls, interrupts) at zstd
//    levels 1, 3, 9 (target <= 4 bytes/event).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include <capnp/serialize-packed.h>
#include <capnp/serialize.h>
#include <zstd.h>

#include "trace/chunk_codec.h"
#include "trace/trace_writer.h"

namespace rrvm::trace {
namespace {

std::string bench_path() {
  return (std::filesystem::temp_directory_path() /
          ("rrvm-bench-" + std::to_string(getpid()) + ".rrt"))
      .string();
}

HeaderInfo header() {
  HeaderInfo h;
  h.rrvm_version = "bench";
  return h;
}

// What a timer-driven guest produces: per tick an interrupt, a PIT latch
// and two counter reads each preceded by a clock read, an RTC read, and a
// few LSR polls of the UART.
void realistic_mix(TraceWriter& w, uint64_t ticks) {
  std::mt19937 rng(1);
  uint64_t ordinal = 0, clock = 0;
  for (uint64_t t = 0; t < ticks; ++t) {
    clock += 1'000'000 + rng() % 5000;
    w.append({EventKind::kClockRead, 0, 0, ordinal, 1, clock});
    w.append({EventKind::kInterrupt, 0, 0, ordinal, 0x20, 0});
    uint16_t count = uint16_t(1193 - (rng() % 40));
    for (int i = 0; i < 2; ++i) {
      ++ordinal;
      w.append({EventKind::kClockRead, 0, 0, ordinal, 0, clock + 800 + i * 900u});
      w.append({EventKind::kPortRead, 1, 0, ordinal, 0x40,
                i ? uint64_t(count >> 8) : uint64_t(count & 0xff)});
    }
    ++ordinal;
    w.append({EventKind::kPortRead, 1, 0, ordinal, 0x71, 0x30 + (t / 1000) % 60});
    for (int i = 0; i < 3; ++i) w.append({EventKind::kPortRead, 1, 0, ++ordinal, 0x3fd, 0x60});
  }
}

void BM_AppendThroughput(benchmark::State& state) {
  std::string path = bench_path();
  Event e{EventKind::kPortRead, 1, 0, 0, 0x40, 0};
  uint64_t n = 0;
  {
    TraceWriter w(path, header(), WriterOptions{.level = 1});
    for (auto _ : state) {
      for (int i = 0; i < 1024; ++i) {
        e.ordinal = n++;
        e.b = n & 0xff;
        w.append(e);
      }
    }
    w.close({});
  }
  state.SetItemsProcessed(int64_t(n));
  std::remove(path.c_str());
}
BENCHMARK(BM_AppendThroughput);

void BM_RealisticMixBytesPerEvent(benchmark::State& state) {
  int level = int(state.range(0));
  std::string path = bench_path();
  uint64_t events = 0, bytes = 0;
  for (auto _ : state) {
    {
      TraceWriter w(path, header(), WriterOptions{.level = level});
      realistic_mix(w, 20000);
      events = w.events_appended();
      w.close({});
    }
    uint64_t header_only;
    {
      std::string empty = path + ".empty";
      TraceWriter w(empty, header(), WriterOptions{.level = level});
      w.close({});
      header_only = std::filesystem::file_size(empty);
      std::remove(empty.c_str());
    }
    bytes = std::filesystem::file_size(path) - header_only;
  }
  state.counters["events"] = double(events);
  state.counters["bytes_per_event"] = double(bytes) / double(events);
  state.SetItemsProcessed(int64_t(events) * state.iterations());
  std::remove(path.c_str());
}
BENCHMARK(BM_RealisticMixBytesPerEvent)->Arg(1)->Arg(3)->Arg(9)->Unit(benchmark::kMillisecond);

// Packed vs unpacked Cap'n Proto for the same chunk records, each then
// compressed with zstd at level 3: bytes per event after zstd.
void BM_PackedVsUnpacked(benchmark::State& state) {
  bool packed = state.range(0) != 0;
  EventBatch batch;
  std::mt19937 rng(1);
  for (uint64_t i = 0; i < 16384; ++i) {
    batch.events.push_back({EventKind::kPortRead, 1, 0, i, 0x40, rng() % 256});
    if (i % 4 == 0) batch.events.push_back({EventKind::kClockRead, 0, 0, i, 0, i * 1000 + rng() % 500});
  }
  size_t out_bytes = 0;
  for (auto _ : state) {
    capnp::MallocMessageBuilder msg;
    encode_chunk(batch, msg.initRoot<schema::TraceRecord>().initChunk());
    kj::VectorOutputStream os;
    if (packed) {
      capnp::writePackedMessage(os, msg);
    } else {
      capnp::writeMessage(os, msg);
    }
    auto bytes = os.getArray();
    std::vector<uint8_t> z(ZSTD_compressBound(bytes.size()));
    out_bytes = ZSTD_compress(z.data(), z.size(), bytes.begin(), bytes.size(), 3);
  }
  state.counters["bytes_per_event"] = double(out_bytes) / double(batch.events.size());
}
BENCHMARK(BM_PackedVsUnpacked)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rrvm::trace

BENCHMARK_MAIN();
