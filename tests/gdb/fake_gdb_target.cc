// Serves the scripted HistoryTarget over the GDB remote protocol, so the gdb
// scripts in this directory can be run against a known execution without
// KVM: `gdb -ex 'target remote | fake_gdb_target'`.
//
//   fake_gdb_target [--truncated|--endless] [--gdb SPEC]
// --truncated: the history ends before the guest's exit instruction;
// --endless: the guest spins at its end until gdb interrupts it.
// --gdb: "-" (default: stdin/stdout) or [HOST:]PORT; with a port, the bound
// address is printed on stderr as "listening on HOST:PORT".
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>

#include "replay/gdb_server.h"
#include "tests/gdb/history_target.h"

namespace {

int serve(rrvm::testing::HistoryTarget& target, const std::string& spec) {
  rrvm::GdbEndpoint ep = rrvm::GdbEndpoint::parse(spec);
  if (ep.stdio) {
    rrvm::GdbConnection conn = rrvm::stdio_gdb_connection();
    rrvm::GdbServer(target, conn).serve();
    return 0;
  }
  rrvm::GdbListener listener(ep);
  std::cerr << "listening on " << listener.address() << std::endl;
  std::optional<rrvm::GdbConnection> conn = listener.accept();
  if (conn) rrvm::GdbServer(target, *conn).serve();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  auto end = rrvm::testing::HistoryEnd::kExit;
  std::string spec = "-";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--truncated") == 0) {
      end = rrvm::testing::HistoryEnd::kTruncated;
    } else if (std::strcmp(argv[i], "--endless") == 0) {
      end = rrvm::testing::HistoryEnd::kEndless;
    } else if (std::strcmp(argv[i], "--gdb") == 0 && i + 1 < argc) {
      spec = argv[++i];
    } else {
      std::cerr << "usage: fake_gdb_target [--truncated|--endless] [--gdb -|[HOST:]PORT]\n";
      return 64;
    }
  }
  rrvm::testing::HistoryTarget target(end);
  try {
    return serve(target, spec);
  } catch (const rrvm::GdbError& e) {
    std::cerr << "fake_gdb_target: " << e.what() << "\n";
    return 69;
  }
}
