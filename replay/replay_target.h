// The debugger's view of a ReplaySession (replay/debug_target.h): what the
// GDB server shows and moves when gdb debugs a trace.
//
// Execution breakpoints are debug registers (DR1-DR3; DR0 is replay's own,
// for landmarks), never int3 in guest memory; watchpoints compare the
// watched bytes (write watchpoints that change the value, as gdb's `watch`
// reports them). A continue first runs exit by exit with the breakpoints
// armed, looking at the watched bytes at each exit; a hit only says in
// which interval between exits the stop is, so that interval is then
// single-stepped from its start to find the instruction and its position.
// A write that a later one undoes within the same interval is not seen.
// More breakpoints than debug registers are found by single-stepping all
// the way (slower, same answer). Reverse execution is re-execution from
// checkpoints (rr's way).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "replay/debug_target.h"
#include "replay/replay_session.h"

namespace rrvm {

class ReplayTarget final : public DebugTarget {
 public:
  explicit ReplayTarget(ReplaySession& session);

  DebugRegisters registers() override;
  size_t read_memory(uint64_t addr, std::span<uint8_t> out) override;
  bool insert_breakpoint(const Breakpoint& bp, std::string* why) override;
  void remove_breakpoint(const Breakpoint& bp) override;
  StopEvent resume(ResumeKind kind, InterruptCheck& interrupt) override;
  std::string monitor(std::string_view command) override;

 private:
  using Stop = std::optional<StopEvent>;
  struct Hit {
    SessionPosition at;
    StopEvent event;
  };

  void arm();
  SessionPosition here();
  Stop step_forward();
  Stop breakpoint_here();
  size_t read_virtual(uint64_t addr, std::span<uint8_t> out);
  std::vector<std::vector<uint8_t>> watched_values();
  Stop watch_changed();
  StopEvent end_stop(const RunResult& r);
  StopEvent forward_continue(InterruptCheck& interrupt);
  StopEvent step_until_hit(InterruptCheck& interrupt);
  StopEvent reverse_step();
  StopEvent reverse_continue(InterruptCheck& interrupt);
  std::optional<Hit> last_hit(SessionPosition from, SessionPosition to);
  // An interval (after exit `exit`) with hits: how many breakpoint hits
  // the free run saw in it, and whether a watched value changed there.
  struct HitInterval {
    uint64_t exit = 0;
    uint64_t breakpoint_hits = 0;
    bool watch_changed = false;
  };
  std::vector<HitInterval> intervals_with_hits(SessionPosition from, SessionPosition to);
  std::optional<Hit> last_hit_in_interval(const HitInterval& in, SessionPosition to);
  std::string seek_command(const std::string& arg);
  std::string events_command(const std::string& arg);
  std::string checkpoints_command();

  ReplaySession& s_;
  std::vector<Breakpoint> bps_;
  std::vector<std::vector<uint8_t>> watched_;  // each watchpoint's bytes, last looked at
  bool all_in_registers_ = true;               // every breakpoint fits DR1-DR3
};

}  // namespace rrvm
