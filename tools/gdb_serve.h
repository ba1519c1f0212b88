// Serving a replay to gdb from the CLI: rrvm replay --gdb and rrvm bisect
// --gdb.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "replay/gdb_transport.h"
#include "replay/replay_session.h"

namespace rrvm::cli {

// The --gdb value, parsed (nullopt when not given); a bad one is a
// UsageError.
std::optional<GdbEndpoint> gdb_endpoint(const std::string& spec);

// Serves `session` to one gdb: on `conn` when the endpoint is stdio (made
// before anything could print), else on a listening socket announced on
// stderr as `what`'s. Returns the exit status: 0 when gdb detached or
// killed, 1 when the replay diverged, 69 when the socket failed.
int serve_gdb(ReplaySession& session, const GdbEndpoint& ep, std::optional<GdbConnection>& conn,
              std::string_view what);

}  // namespace rrvm::cli
