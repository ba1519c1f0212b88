// Trace size against QEMU's record/replay (issue 14): every test guest that
// runs to an end, recorded once by rrvm in each mode and once by QEMU
// (TCG, -icount shift=auto,rr=record) with the same image and the devices
// it needs. Reports, per guest and mode: exits, events, events per exit,
// the event chunks' bytes, the embedded image as stored, the whole rrvm
// file, bytes per exit, QEMU's rr file, and the two goals:
//   - the whole rrvm file no larger than QEMU's (QEMU's file holds no image,
//     so the file without its image is shown too);
//   - under 1 KiB of events for a guest with no external input (no packets,
//     no spinning: its landmarks are the host's timing).
// Sizes only, one run each: nothing here is timed.
//
// The test guests are built with -g: two thirds of each image is DWARF,
// which rrvm embeds (a trace is a whole bug report) and QEMU's file does
// not hold at all. A second table repeats the --clock virtual row with the
// debug info stripped (strip -g, the same stripped image for both).
//
//   build/tests/bench/trace_size_bench [guest...]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"

namespace {

struct Guest {
  const char* name;
  const char* rrvm_devices;  // extra rrvm options
  const char* qemu_devices;  // extra QEMU options
  bool external_input;       // packets, or spinning (landmarks at host-timed kicks)
};

const Guest kGuests[] = {
    {"hello", "", "", false},
    {"pit", "", "", false},
    {"iobench", "", "", false},
    {"timerhash", "", "", true},
    {"timerhash_lapic", "", "", true},
    {"platform", "", "", false},
    {"seedboot", " --net user",
     " -netdev user,id=n0 -device rtl8139,netdev=n0,mac=52:54:00:12:34:56"
     " -object filter-replay,id=replay,netdev=n0",
     true},
    {"diverge", "", "", false},
    {"pitpoll", "", "", false},
};

struct Mode {
  const char* name;
  const char* options;
};
const Mode kModes[] = {
    {"virtual", " --clock virtual"},
    {"host", " --clock host"},
    {"virtual --log-values", " --clock virtual --log-values"},
    {"host --log-values", " --clock host --log-values"},
};

std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / name).string();
}

uint64_t number(const std::string& json, const std::string& key) {
  return std::strtoull(bench::json_field(json, key).c_str(), nullptr, 10);
}

// QEMU's rr file for `g`; 0 if QEMU failed or is missing.
uint64_t qemu_bytes(const Guest& g, const std::string& image) {
  std::string rr = temp("rrvm-size-bench-qemu.bin");
  std::filesystem::remove(rr);
  std::string cmd =
      "timeout 300 qemu-system-x86_64 -accel tcg -icount shift=auto,rr=record,rrfile=" + rr +
      " -kernel " + image +
      " -device isa-debug-exit,iobase=0xf4,iosize=4 -serial null -display none"
      " -no-reboot -m 64 -nodefaults" +
      g.qemu_devices + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) == -1 || !std::filesystem::exists(rr)) return 0;
  uint64_t n = std::filesystem::file_size(rr);
  std::filesystem::remove(rr);
  return n;
}

struct Row {
  uint64_t exits = 0, events = 0, event_bytes = 0, image_stored = 0, file = 0;
};

Row record(const Guest& g, const Mode& m, const std::string& image) {
  std::string trace = temp("rrvm-size-bench.rrt");
  std::string rec = bench::rrvm("record --json --serial none --timeout 120 -o " + trace +
                                " --kernel " + image + g.rrvm_devices + m.options)
                        .second;
  std::string info = bench::rrvm("info --json " + trace).second;
  Row r;
  r.exits = number(rec, "exits");
  r.events = number(rec, "events");
  r.event_bytes = number(info, "chunk_bytes");
  r.image_stored = number(info, "image_stored_bytes");
  r.file = number(info, "file_bytes");
  std::filesystem::remove(trace);
  return r;
}

double per(uint64_t a, uint64_t b) {
  return b ? double(a) / double(b) : 0.0;
}

void print_row(const Guest& g, const Mode& m, const Row& r, uint64_t q) {
  bool file_goal = q && r.file <= q;
  bool events_goal = g.external_input || r.event_bytes < 1024;
  std::printf(
      "%-16s %-21s %7llu %7llu %8.4f %7llu %7llu %7llu %7.3f %7llu %7.2f %6.2f %6.3f  file%s%s\n",
      g.name, m.name, (unsigned long long)r.exits, (unsigned long long)r.events,
      per(r.events, r.exits), (unsigned long long)r.event_bytes, (unsigned long long)r.image_stored,
      (unsigned long long)r.file, per(r.file, r.exits), (unsigned long long)q, per(r.file, q),
      per(r.file - r.image_stored, q), per(r.event_bytes, r.exits), file_goal ? "<=qemu" : ">qemu",
      g.external_input ? "" : (events_goal ? ", events<1KiB" : ", events>=1KiB"));
  std::fflush(stdout);
}

// One table: every selected guest in `modes`, its image as built or
// stripped of debug info.
void table(const std::vector<std::string>& only, std::span<const Mode> modes, bool stripped) {
  std::printf("%-16s %-21s %7s %7s %8s %7s %7s %7s %7s %7s %7s %6s %6s  %s\n", "guest", "rrvm mode",
              "exits", "events", "ev/exit", "ev B", "image B", "file B", "B/exit", "qemu B",
              "file/q", "-img/q", "evB/ex", "goals");
  for (const Guest& g : kGuests) {
    if (!only.empty() && std::find(only.begin(), only.end(), g.name) == only.end()) continue;
    std::string image = std::string(RRVM_GUEST_DIR) + "/" + g.name + ".elf";
    if (stripped) {
      std::string copy = temp(std::string("rrvm-size-bench-") + g.name + ".elf");
      if (std::system(("strip -g -o " + copy + " " + image).c_str()) != 0) continue;
      image = copy;
    }
    uint64_t q = qemu_bytes(g, image);
    for (const Mode& m : modes) print_row(g, m, record(g, m, image), q);
    if (stripped) std::filesystem::remove(image);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> only(argv + 1, argv + argc);
  std::printf("The test guests as built (with DWARF):\n");
  table(only, kModes, false);
  std::printf("\nThe same images stripped of debug info (strip -g), for rrvm and QEMU alike:\n");
  table(only, std::span<const Mode>(kModes, 1), true);
  std::printf(
      "\ncolumns: ev B = compressed event chunks; image B = embedded images as stored; file B = "
      "whole trace; B/exit = file B per exit; file/q = file B / QEMU's rr file; -img/q = the "
      "same without the image (QEMU's file holds none); evB/ex = event bytes per exit.\n");
  return 0;
}
