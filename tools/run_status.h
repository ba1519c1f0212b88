// Maps how a run ended to the CLI's exit status and message.
#pragma once

#include "vmm/run_result.h"

namespace rrvm::cli {

// Prints the run's message (if any) to stderr and returns the exit status:
// the guest's own status, 0 for power-off, 70 for a crash, 124 for timeout.
int report_run_result(const RunResult& r);

}  // namespace rrvm::cli
