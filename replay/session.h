// Recording and replaying a whole Machine: the glue between vmm/'s Machine
// and the engine's Recorder / Replayer, independent of the trace file.
#pragma once

#include "replay/recorder.h"
#include "replay/replayer.h"
#include "vmm/machine.h"

namespace rrvm {

struct RecordSummary {
  RunResult result;
  uint64_t events = 0;
  uint64_t landmarks = 0;
  uint64_t modelled = 0;  // reads and interrupts at exits left to the device models
  uint64_t final_memory_digest = 0;
  uint64_t final_register_digest = 0;
};

// Runs `machine` to its end, sending every input to `sink`. The machine's
// clock decides RecordOptions::virtual_time.
RecordSummary record_machine(Machine& machine, trace::EventSink& sink, const RecordOptions& opts);

struct ReplaySummary {
  RunResult result;
  ReplayStats stats;
  uint64_t final_memory_digest = 0;
  uint64_t final_register_digest = 0;
};
// Replaying is ReplaySession's (replay/replay_session.h).

}  // namespace rrvm
