// A replay of a recorded trace for the KVM tests of the replay engine: the
// trace's reader, the machine configuration and images it holds, and a
// ReplaySession over them with the trace's own replay options, as
// `rrvm replay` builds it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "devices/char_backend.h"
#include "replay/landmark.h"
#include "replay/replay_session.h"
#include "replay/trace_header.h"
#include "trace/trace_reader.h"

namespace rrvm::test {

struct Replay {
  explicit Replay(const std::string& path, const CheckpointPolicy& policy = CheckpointPolicy{0})
      : reader(path),
        cfg(config_from_trace(reader.header())),
        images(images_from_trace(reader)),
        session(reader, cfg, images, serial, replay_options_for(reader), policy) {}
  RegisterSnapshot regs() { return RegisterSnapshot::from(session.vcpu().get_regs()); }

  trace::TraceReader reader;
  MachineConfig cfg;
  MachineImages images;
  StringSink serial;
  ReplaySession session;
};

// The replay from where it stands to its end matches the recording: a guest
// exit, and the final memory digest the trace's footer holds.
inline void expect_replays_to_the_recorded_end(Replay& r) {
  RunResult end = r.session.run();
  EXPECT_EQ(end.reason, StopReason::kGuestExit) << end.message;
  ASSERT_TRUE(r.reader.footer());
  EXPECT_EQ(r.session.summary(end).final_memory_digest, r.reader.footer()->final_mem_digest);
}

}  // namespace rrvm::test
