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
  if (more) more(j);
  std::cout << j.end_object().str() << "\n";
}

}  // namespace rrvm::cli
