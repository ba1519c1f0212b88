// Subcommand registry for the rrvm CLI. Each tools/cmd_*.cc defines its
// commands with RRVM_COMMAND; main.cc only dispatches.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rrvm::cli {

// Exit statuses (sysexits.h where one fits; DESIGN.md and the issues fix them).
enum ExitCode : int {
  kExitOk = 0,
  kExitDiverged = 1,      // replay/bisect: executions differ
  kExitIdentical = 3,     // bisect: no divergence
  kExitUsage = 64,        // EX_USAGE: bad option or argument
  kExitDataErr = 65,      // EX_DATAERR: corrupt trace, invalid image
  kExitNoInput = 66,      // EX_NOINPUT: missing or unreadable input file
  kExitUnavailable = 69,  // EX_UNAVAILABLE: /dev/kvm missing or unusable
  kExitSoftware = 70,     // EX_SOFTWARE: guest crash (triple fault, emulation failure)
  kExitCantCreate = 73,   // EX_CANTCREAT: cannot create an output file or directory
  kExitIoErr = 74,        // EX_IOERR: cannot write output
  kExitTimeout = 124,     // like timeout(1)
};

// args excludes the program name and the subcommand name.
using CommandFn = int (*)(const std::vector<std::string>& args);

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `rrvm --help`
  CommandFn run;
};

// Registers at static-initialisation time; returns true so it can seed a
// namespace-scope bool.
bool register_command(Command cmd);
const std::vector<Command>& commands();

// Prints "rrvm: error: <msg>" on stderr (control characters escaped, after
// flushing stdout) and returns `code` (tools/error_policy.cc).
int fail(int code, std::string_view msg);

}  // namespace rrvm::cli

#define RRVM_CONCAT2(a, b) a##b
#define RRVM_CONCAT(a, b) RRVM_CONCAT2(a, b)
#define RRVM_COMMAND(name, summary, fn)                                 \
  [[maybe_unused]] static const bool RRVM_CONCAT(rrvm_cmd_, __LINE__) = \
      ::rrvm::cli::register_command({name, summary, fn})
