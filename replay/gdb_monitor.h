// Monitor commands (gdb's `monitor ...`, the qRcmd packet) that the GDB
// server answers itself from the DebugTarget interface, for every target.
// They exist because gdb 13, given an x86-64 target description, decodes all
// code as 64-bit even while the guest runs in 32-bit protected mode (it reads
// the description once per connection and refuses `set architecture i386`
// with it): `monitor disas` and tools/rrvm-gdb.py decode in the mode the CPU
// is really in.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replay/debug_target.h"

namespace rrvm::gdb {

// The output of `command` if it is a built-in (mode, disas, decode), else
// nullopt and the target answers it.
std::optional<std::string> builtin_monitor(DebugTarget& target, std::string_view command);

// A monitor command split at blanks, for targets that parse their own.
std::vector<std::string> monitor_words(std::string_view command);

// Lines for `monitor help`, after the target's own.
std::string_view builtin_monitor_help();

}  // namespace rrvm::gdb
