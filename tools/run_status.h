// Maps how a run ended to the CLI's exit status and message.
#pragma once

#include <functional>

#include "trace/json_writer.h"
#include "vmm/instruction_completion.h"
#include "vmm/run_result.h"

namespace rrvm::cli {

// Prints the run's message (if any) to stderr and returns the exit status:
// the guest's own status, 0 for power-off, 70 for a crash, 124 for timeout.
int report_run_result(const RunResult& r);

// run/record --json: how the run ended and the exit status, as one JSON
// object on stdout; `more` adds the command's own members.
void print_run_json(const RunResult& r, int exit_status,
                    const std::function<void(trace::JsonWriter&)>& more = {});

// "rrvm: completed 3 instructions KVM could not emulate (int3 2, fwait 1)"
// on stderr when there were any.
void note_completions(const CompletionCounts& counts);
// "completions": {"int3": 2, "fwait": 1, "clac": 0, "stac": 0}
void json_completions(trace::JsonWriter& j, const CompletionCounts& counts);

}  // namespace rrvm::cli
