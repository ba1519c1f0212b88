#include "tools/run_status.h"

#include <iostream>

#include "tools/command.h"
#include "trace/text_escape.h"

namespace rrvm::cli {

int report_run_result(const RunResult& r) {
  switch (r.reason) {
    case StopReason::kGuestExit:
      return r.status & 0xff;
    case StopReason::kPowerOff:
      return kExitOk;
    case StopReason::kTimeout:
      return fail(kExitTimeout, r.message);
    case StopReason::kInterrupted:
      std::cerr << "rrvm: " << trace::escape_text(r.message, trace::Escape::kLines) << "\n";
      return r.status;
    case StopReason::kDiverged:
      return fail(kExitDiverged, r.message);
    case StopReason::kEndOfTrace:
      std::cerr << "rrvm: " << trace::escape_text(r.message, trace::Escape::kLines) << "\n";
      return kExitOk;
    default:
      return fail(kExitSoftware, r.message);
  }
}

void print_run_json(const RunResult& r, int exit_status,
                    const std::function<void(trace::JsonWriter&)>& more) {
  trace::JsonWriter j;
  j.begin_object()
      .field("reason", to_string(r.reason))
      .field("guest_status", r.status)
      .field("exit_status", exit_status)
      .field("exits", r.exits)
      .field("message", r.message);
  json_completions(j, r.completions);
  if (more) more(j);
  std::cout << j.end_object().str() << "\n";
}

void note_completions(const CompletionCounts& counts) {
  uint64_t n = 0;
  for (uint64_t c : counts) n += c;
  if (!n) return;
  std::cerr << "rrvm: completed " << n << (n == 1 ? " instruction" : " instructions")
            << " KVM could not emulate (" << describe_completions(counts) << ")\n";
}

void json_completions(trace::JsonWriter& j, const CompletionCounts& counts) {
  j.key("completions").begin_object();
  for (int i = 0; i < kCompletedInsnKinds; ++i)
    j.field(to_string(CompletedInsn(i)), counts[size_t(i)]);
  j.end_object();
}

}  // namespace rrvm::cli
