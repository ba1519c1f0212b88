// Machine checkpoint cost on the test guests, in one process: each guest
// runs once straight and once pausing to take N checkpoints evenly spread;
// then every checkpoint is restored, newest first. Reported per guest:
// time per checkpoint, RAM pages it stored, bytes it added to the store,
// restore time and pages written back, the run's slowdown from taking
// checkpoints, and a copy of all guest RAM as the yardstick a
// non-incremental snapshot would pay. Ratios come from this one run.
//
//   build/tests/bench/checkpoint_bench [checkpoints-per-run]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"
#include "vmm/machine.h"
#include "vmm/machine_checkpoint.h"
#include "vmm/net_backend.h"
#include "vmm/ram_checkpoints.h"

namespace {

using namespace rrvm;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Guest {
  const char* name;
  std::string cmdline;
  bool net = false;
};

std::vector<uint8_t> image(const char* name) {
  std::ifstream f(std::string(RRVM_GUEST_DIR) + "/" + name + ".elf", std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

struct NullSink final : CharSink {
  void write(uint8_t) override {}
};

// A machine as `rrvm run --clock virtual --serial none` builds it.
struct Run {
  explicit Run(const Guest& g) : machine(config(g), MachineImages{image(g.name), {}}, sink) {
    if (g.net) machine.connect_network(make_net_backend("user"));
  }
  static MachineConfig config(const Guest& g) {
    MachineConfig c;
    c.kernel_path = g.name;
    c.cmdline = g.cmdline;
    c.serial = SerialConfig{SerialKind::kNone, ""};
    c.clock = ClockMode::kVirtual;
    c.net = g.net ? NetConfig{NetKind::kUser, "user"} : NetConfig{NetKind::kNone, "none"};
    c.timeout_sec = 120;
    return c;
  }
  NullSink sink;
  Machine machine;
};

struct Figures {
  uint64_t exits = 0;
  double straight_s = 0, checkpointed_s = 0;
  std::vector<double> take_us, restore_us;
  std::vector<size_t> pages, restored_pages;
  uint64_t bytes = 0, ram_bytes = 0;  // all checkpoints; their RAM pages alone
  size_t distinct = 0;                // pages in the store
  double jump_us = 0;                 // oldest checkpoint back to the newest
  size_t jump_pages = 0;
};

void take_all(const Guest& g, uint64_t every, Figures& f, std::vector<MachineCheckpoints::Id>& ids,
              Run& r) {
  auto t0 = Clock::now();
  MachineCheckpoints& cps = r.machine.checkpoints();
  for (uint64_t at = every;; at += every) {
    RunResult res = r.machine.run(at);
    if (res.reason != StopReason::kPaused) {
      if (res.reason != StopReason::kGuestExit && res.reason != StopReason::kPowerOff) {
        std::printf("%s: stopped early at exit %llu: %s\n", g.name,
                    static_cast<unsigned long long>(res.exits), res.message.c_str());
      }
      break;
    }
    auto t = Clock::now();
    ids.push_back(cps.take());
    f.take_us.push_back(since(t) * 1e6);
    f.pages.push_back(cps.ram().delta_pages(ids.back()));
  }
  f.checkpointed_s = since(t0);
  f.bytes = cps.bytes_used();
  f.ram_bytes = cps.ram().bytes_used();
  f.distinct = cps.ram().store().pages();
}

// Newest to oldest, one step back at a time; then one jump to the newest.
void restore_all(Figures& f, const std::vector<MachineCheckpoints::Id>& ids, Run& r) {
  r.machine.vcpu().finish_pending_exit();
  MachineCheckpoints& cps = r.machine.checkpoints();
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    auto t = Clock::now();
    f.restored_pages.push_back(cps.restore(*it));
    f.restore_us.push_back(since(t) * 1e6);
  }
  auto t = Clock::now();
  f.jump_pages = cps.restore(ids.back());
  f.jump_us = since(t) * 1e6;
}

template <class T>
double median_of(std::vector<T> v) {
  std::vector<double> d(v.begin(), v.end());
  return bench::median(d);
}

double ram_copy_us(uint64_t bytes) {
  std::vector<uint8_t> a(bytes, 1), b(bytes);
  auto t = Clock::now();
  std::memcpy(b.data(), a.data(), bytes);
  double us = since(t) * 1e6;
  return b[bytes / 2] == 1 ? us : 0;
}

// The first checkpoint holds everything loaded and written since power-on;
// the others what the guest wrote in between.
void report(const char* name, const Figures& f, size_t n, double copy_us) {
  std::vector<double> later_us(f.take_us.begin() + 1, f.take_us.end());
  std::vector<size_t> later_pages(f.pages.begin() + 1, f.pages.end());
  double take = median_of(later_us);
  double fixed = double(f.bytes - f.ram_bytes) / double(n);
  size_t stored = std::accumulate(f.pages.begin(), f.pages.end(), size_t{0});
  std::printf("%-9s %6llu exits, %zu checkpoints, run x%.2f with them\n", name,
              static_cast<unsigned long long>(f.exits), n, f.checkpointed_s / f.straight_s);
  std::printf(
      "  take: first %.0f us / %zu pages, then %.0f us / %.0f pages (medians); %.0f B per "
      "checkpoint besides RAM; RAM: %zu pages taken, %zu distinct stored, store %.0f KiB (1 MiB "
      "slabs)\n",
      f.take_us[0], f.pages[0], take, median_of(later_pages), fixed, stored, f.distinct,
      double(f.ram_bytes) / 1024);
  std::printf(
      "  restore: one step back %.0f us / %.0f pages (medians), oldest to newest %.0f us / %zu "
      "pages; a copy of all 256 MiB of RAM takes %.0f us = %.0f x a take\n",
      median_of(f.restore_us), median_of(f.restored_pages), f.jump_us, f.jump_pages, copy_us,
      copy_us / take);
}

void measure(const Guest& g, uint64_t checkpoints) {
  Figures f;
  {
    Run straight(g);
    auto t0 = Clock::now();
    f.exits = straight.machine.run().exits;
    f.straight_s = since(t0);
  }
  uint64_t every = std::max<uint64_t>(f.exits / (checkpoints + 1), 1);
  Run r(g);
  std::vector<MachineCheckpoints::Id> ids;
  take_all(g, every, f, ids, r);
  if (ids.size() < 2) {
    std::printf("%-9s fewer than two checkpoints taken\n", g.name);
    return;
  }
  restore_all(f, ids, r);
  report(g.name, f, ids.size(), ram_copy_us(r.machine.config().mem_size));
}

// RAM checkpoints alone, against how much the guest wrote: a fake dirty
// log stands in for KVM's, so the pages written can be chosen.
void ram_scaling() {
  GuestRam ram(256ull << 20);
  std::vector<uint64_t> bits(ram.size() / 4096 / 64);
  ram.enable_dirty_log([&](uint32_t, std::span<uint64_t> out) {
    std::copy(bits.begin(), bits.end(), out.begin());
    std::fill(bits.begin(), bits.end(), 0);
  });
  RamCheckpoints cps(ram);
  auto base = cps.take();
  uint8_t* host = ram.regions()[0].host;
  uint64_t stamp = 0;
  std::printf("RAM alone (256 MiB, fake dirty log): pages written -> take, bytes added, restore\n");
  for (uint64_t n : {1, 16, 256, 4096, 16384}) {
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t page = (i * 7919) % (ram.size() / 4096);
      ++stamp;
      std::memcpy(host + page * 4096 + (stamp % 512) * 8, &stamp, sizeof stamp);
      bits[page / 64] |= 1ull << (page % 64);
    }
    uint64_t before = cps.bytes_used();
    auto t = Clock::now();
    auto id = cps.take();
    double take = since(t) * 1e6;
    uint64_t added = cps.bytes_used() - before;
    t = Clock::now();
    size_t back = cps.restore(base);
    double restore = since(t) * 1e6;
    cps.restore(id);
    std::printf(
        "  %6llu pages: take %8.0f us (%.2f us/page), +%9llu B (%.2f x 4 KiB/page), "
        "restore %8.0f us / %zu pages\n",
        static_cast<unsigned long long>(n), take, take / double(n),
        static_cast<unsigned long long>(added), double(added) / (4096.0 * double(n)), restore,
        back);
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 20;
  std::printf("%llu checkpoints per run, 256 MiB guests, --clock virtual\n",
              static_cast<unsigned long long>(n));
  for (const Guest& g : {Guest{"iobench", ""}, Guest{"pit", ""}, Guest{"timerhash", ""},
                         Guest{"seedboot", "", true}}) {
    try {
      measure(g, n);
    } catch (const std::exception& e) {
      std::printf("%-9s failed: %s\n", g.name, e.what());
    }
  }
  ram_scaling();
  return 0;
}
