// A GDB remote serial protocol server (gdb manual, appendix E) for one
// DebugTarget: all-stop, one thread, read-only, with reverse execution.
//
// What it speaks: qSupported, ?, g, p, m, s, c, S, C, vCont (and vCont?), bs,
// bc, Z0-Z4/z0-z4, qXfer:features:read, qAttached, qC, qfThreadInfo/
// qsThreadInfo, qThreadExtraInfo, qRcmd (monitor), H, T, D, k, vKill,
// QStartNoAckMode. G, P, M and X are refused with an "E." error text
// (a replay is read-only); any other packet gets the empty reply gdb reads as
// "not supported".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "replay/debug_target.h"
#include "replay/gdb_transport.h"

namespace rrvm {

// The stop reply for `stop` ("T05thread:1;swbreak:;", "W00", ...). swbreak
// and hwbreak reasons are only given when gdb said it understands them.
std::string gdb_stop_reply(const StopEvent& stop, bool swbreak, bool hwbreak);

class GdbServer {
 public:
  enum class End : uint8_t { kDetached, kKilled, kDisconnected };

  // The target is taken as stopped at its current position.
  GdbServer(DebugTarget& target, GdbConnection& connection);

  // Answers packets until gdb detaches, kills or disconnects. Exceptions
  // from the target (a replay that diverges, a corrupt trace) propagate;
  // GdbError from a connection that broke mid-write ends it as kDisconnected.
  End serve();

 private:
  // The reply to one packet; nullopt for none (k).
  std::optional<std::string> handle(std::string_view packet);
  std::string query(std::string_view packet);
  std::string supported(std::string_view features);
  std::string read_features(std::string_view args);
  std::string monitor(std::string_view hex_command);
  std::string read_register(std::string_view args);
  std::string read_memory(std::string_view args);
  std::string breakpoint(bool insert, std::string_view args);
  std::string resume_packet(std::string_view packet);
  std::string v_packet(std::string_view packet);
  std::string vcont(std::string_view actions);
  std::string resume(ResumeKind kind);

  DebugTarget& target_;
  GdbConnection& conn_;
  std::string last_stop_ = "T05thread:1;";
  bool gdb_swbreak_ = false;
  bool gdb_hwbreak_ = false;
  std::optional<End> end_;
};

}  // namespace rrvm
