// Why a run ended, in terms the CLI maps to exit statuses.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace rrvm {

enum class StopReason {
  kGuestExit,         // isa-debug-exit write; status = (value << 1) | 1
  kPowerOff,          // ACPI S5; status 0
  kTripleFault,       // KVM_EXIT_SHUTDOWN
  kEmulationFailure,  // KVM_EXIT_INTERNAL_ERROR
  kEntryFailure,      // KVM_EXIT_FAIL_ENTRY
  kHaltedForever,     // HLT with interrupts disabled: nothing can wake it
  kUnmappedAccess,    // --strict-io and an access to nothing
  kTimeout,           // --timeout elapsed
  kInterrupted,       // SIGINT/SIGTERM
  kDiverged,          // replay: execution left the recording
  kEndOfTrace,        // replay: --until reached or a truncated trace ran out
  kPaused,            // Machine::run(pause_after_exit): stopped where a checkpoint can be taken
  kBreakpoint,        // replay: a debugger's breakpoint or watchpoint was hit
};

struct RunResult {
  StopReason reason = StopReason::kGuestExit;
  int status = 0;       // guest exit status where there is one
  std::string message;  // for people; empty for a clean guest exit
  uint64_t exits = 0;   // exit ordinal count at the stop
  // Instructions KVM could not emulate that rrvm completed, by
  // CompletedInsn (vmm/instruction_completion.h): int3, fwait, clac, stac, popcnt, ldmxcsr, sse.
  std::array<uint64_t, 9> completions{};
};

const char* to_string(StopReason r);

}  // namespace rrvm
