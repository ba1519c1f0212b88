// rrvm: record, replay and bisect KVM guests. This file only dispatches to the
// subcommands registered by tools/cmd_*.cc.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "tools/command.h"
#include "tools/error_policy.h"

namespace rrvm::cli {

static std::vector<Command>& registry() {
  static std::vector<Command> cmds;
  return cmds;
}

bool register_command(Command cmd) {
  registry().push_back(cmd);
  return true;
}

const std::vector<Command>& commands() {
  auto& cmds = registry();
  std::sort(cmds.begin(), cmds.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
  return cmds;
}

static void usage(std::ostream& os) {
  os << "usage: rrvm <command> [options]\n\n"
        "rrvm runs small x86 guests under KVM, records every nondeterministic input\n"
        "into a self-contained trace (.rrt), replays it exactly, and finds where two\n"
        "executions diverge.\n\ncommands:\n";
  for (const auto& c : commands()) {
    os << "  " << c.name << std::string(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ')
       << c.summary << "\n";
  }
  os << "\n'rrvm <command> --help' explains a command's options.\n";
}

}  // namespace rrvm::cli

int main(int argc, char** argv) {
  using namespace rrvm::cli;
  // A closed pipe on stdout (`rrvm record ... | head`) must not kill a
  // recording mid-write: writes fail with EPIPE instead and the trace is
  // finished properly.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    usage(std::cerr);
    return kExitUsage;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(std::cout);
    return kExitOk;
  }
  if (name == "--version") {
    std::cout << "rrvm " << RRVM_VERSION << "\n";
    return kExitOk;
  }
  for (const auto& c : commands()) {
    if (c.name != name) continue;
    std::vector<std::string> args(argv + 2, argv + argc);
    return run_guarded([&] { return c.run(args); });
  }
  std::cerr << "rrvm: error: unknown command '" << name << "'\n\n";
  usage(std::cerr);
  return kExitUsage;
}
