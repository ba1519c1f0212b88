#include "tools/gdb_serve.h"

#include <iostream>

#include "replay/gdb_server.h"
#include "replay/replay_target.h"
#include "tools/command.h"
#include "tools/error_policy.h"

namespace rrvm::cli {

std::optional<GdbEndpoint> gdb_endpoint(const std::string& spec) {
  if (spec.empty()) return std::nullopt;
  try {
    return GdbEndpoint::parse(spec);
  } catch (const GdbError& e) {
    throw UsageError(std::string("--gdb: ") + e.what());
  }
}

int serve_gdb(ReplaySession& session, const GdbEndpoint& ep, std::optional<GdbConnection>& conn,
              std::string_view what) {
  ReplayTarget target(session);
  try {
    if (conn) {
      GdbServer(target, *conn).serve();
      return kExitOk;
    }
    GdbListener listener(ep);
    std::cerr << "rrvm: " << what << " waits for gdb on " << listener.address()
              << " (in gdb: target remote " << listener.address() << ")" << std::endl;
    std::optional<GdbConnection> accepted = listener.accept();
    if (accepted) GdbServer(target, *accepted).serve();  // else SIGINT/SIGTERM came first
  } catch (const GdbError& e) {
    return fail(kExitUnavailable, e.what());
  } catch (const std::runtime_error& e) {  // the replay diverged under the debugger
    return fail(kExitDiverged, e.what());
  }
  return kExitOk;
}

}  // namespace rrvm::cli
