// Serves the scripted HistoryTarget over the GDB remote protocol, so the gdb
// scripts in this directory can be run against a known execution without
// KVM: `gdb -ex 'target remote | fake_gdb_target'`.
//
//   fake_gdb_target [--truncated|--endless] [--gdb SPEC]
// --truncated: the history ends before the guest's exit instruction;
// --endless: the guest spins at its end until gdb interrupts it.
// --gdb: "-" (default: stdin/stdout) or [HOST:]PORT; with a port, the bound
// address is printed on stderr as "listening on HOST:PORT". Every resume
// prints a line on stdout, standing in for the guest's serial console.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "replay/gdb_server.h"
#include "tests/gdb/history_target.h"

namespace {

// Prints a line on stdout at every resume, as a guest's serial console
// would: with --gdb -, the server must keep it out of the protocol.
class ConsoleTarget final : public rrvm::DebugTarget {
 public:
  explicit ConsoleTarget(rrvm::testing::HistoryTarget& t) : t_(t) {}
  rrvm::DebugRegisters registers() override { return t_.registers(); }
  size_t read_memory(uint64_t addr, std::span<uint8_t> out) override {
    return t_.read_memory(addr, out);
  }
  bool insert_breakpoint(const rrvm::Breakpoint& bp, std::string* why) override {
    return t_.insert_breakpoint(bp, why);
  }
  void remove_breakpoint(const rrvm::Breakpoint& bp) override { t_.remove_breakpoint(bp); }
  rrvm::StopEvent resume(rrvm::ResumeKind kind, rrvm::InterruptCheck& interrupt) override {
    std::printf("fake guest console: resumed at position %zu\n", t_.position());
    std::fflush(stdout);
    return t_.resume(kind, interrupt);
  }
  std::string monitor(std::string_view command) override { return t_.monitor(command); }

 private:
  rrvm::testing::HistoryTarget& t_;
};

int serve(rrvm::DebugTarget& target, const std::string& spec) {
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
  rrvm::testing::HistoryTarget history(end);
  ConsoleTarget target(history);
  try {
    return serve(target, spec);
  } catch (const rrvm::GdbError& e) {
    std::cerr << "fake_gdb_target: " << e.what() << "\n";
    return 69;
  }
}
