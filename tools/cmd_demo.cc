// rrvm demo: the short tour. Records a guest whose result depends on where
// timer interrupts land, twice, shows that the two runs differ, and replays
// one of them exactly. (The seed scenario — NetBSD's MP table / _PIC /
// RTL8139 timer boot — joins this demo when its guest exists.)
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "tools/command.h"
#include "tools/machine_options.h"

namespace rrvm::cli {
namespace {

namespace fs = std::filesystem;

// The built test guests: $RRVM_GUEST_DIR, else next to the build's rrvm.
fs::path guest_dir() {
  if (const char* env = std::getenv("RRVM_GUEST_DIR")) return env;
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tests" / "guests";
}

struct Output {
  int status = -1;
  std::string out;
};

// Runs this rrvm with `args`; stdout captured, stderr captured too.
Output self(const std::string& args) {
  std::string cmd = fs::read_symlink("/proc/self/exe").string() + " " + args + " 2>&1";
  Output o;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  int st = ::pclose(p);
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return o;
}

std::string line_with(const std::string& text, const std::string& needle) {
  auto at = text.find(needle);
  if (at == std::string::npos) return "(not found)";
  return text.substr(at, text.find('\n', at) - at);
}

void step(int n, const std::string& what) {
  std::cout << "\n[" << n << "/4] " << what << "\n" << std::flush;
}

int cmd_demo(const std::vector<std::string>& args) {
  po::options_description desc("Demo options");
  std::string dir;
  desc.add_options()("dir", po::value<std::string>(&dir)->default_value("rrvm-demo"),
                     "where to leave the traces");
  po::variables_map vm;
  try {
    if (!parse_args(
            args, desc, {}, vm, "rrvm demo [--dir DIR]",
            "Records a timer-driven guest twice, shows the runs differ, replays one exactly.")) {
      return kExitOk;
    }
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  }
  fs::path guests = guest_dir();
  std::string timerhash = (guests / "timerhash.elf").string(),
              hello = (guests / "hello.elf").string();
  if (!fs::exists(timerhash)) {
    return fail(kExitNoInput, "test guests not found in " + guests.string() +
                                  " (build them with tools/bootstrap.sh, or set RRVM_GUEST_DIR)");
  }
  fs::create_directories(dir);
  std::string a = dir + "/timerhash-a.rrt", b = dir + "/timerhash-b.rrt";

  step(1, "Boot the hello guest under KVM (rrvm run)");
  Output h = self("run --kernel " + hello);
  std::cout << "  " << line_with(h.out, "hello from") << "   (exit status " << h.status << ")\n";

  step(2, "Record the timerhash guest twice: a busy loop interrupted by the PIT at 1 kHz");
  Output ra = self("record -o " + a + " --kernel " + timerhash);
  Output rb = self("record -o " + b + " --kernel " + timerhash);
  std::cout << "  run A: " << line_with(ra.out, "timerhash:")
            << "\n  run B: " << line_with(rb.out, "timerhash:")
            << "\n  Where each tick lands depends on host timing, so the hashes differ.\n"
            << "  " << line_with(ra.out, "rrvm: recorded") << "\n";

  step(3, "Replay run A from its trace, verified against the recording");
  Output rep = self("replay " + a);
  std::cout << "  replay: " << line_with(rep.out, "timerhash:") << "\n  "
            << line_with(rep.out, "rrvm: replay") << "\n";
  bool same =
      line_with(rep.out, "timerhash:") == line_with(ra.out, "timerhash:") && rep.status == 0;

  step(4, "What the trace holds (rrvm info)");
  std::cout << self("info " + a).out;
  std::cout << "\n"
            << (same ? "Replay reproduced run A exactly." : "Replay did NOT reproduce run A.")
            << " Traces are in " << dir << "/ — try `rrvm dump " << a << " --kind landmark`.\n";
  return same ? kExitOk : kExitDiverged;
}

}  // namespace

RRVM_COMMAND("demo", "record a timer-driven guest twice and replay it (a short tour)", cmd_demo);

}  // namespace rrvm::cli
