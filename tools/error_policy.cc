#include "tools/error_policy.h"

#include <iostream>

#include "tools/command.h"
#include "trace/text_escape.h"
#include "vmm/kvm.h"
#include "vmm/net_backend.h"

namespace rrvm::cli {

int fail(int code, std::string_view msg) {
  std::cout.flush();  // what the command printed before the error comes first
  std::cerr << "rrvm: error: " << trace::escape_text(msg, trace::Escape::kLines) << "\n";
  return code;
}

int run_guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const ConfigError& e) {
    return fail(kExitUsage, e.what());  // a value from a trace is DataError (see reading())
  } catch (const DataError& e) {
    return fail(kExitDataErr, e.what());
  } catch (const trace::TraceError& e) {
    // Met after opening (bisect reads two traces): the reader names its file.
    return fail(kExitDataErr, (e.file().empty() ? "" : e.file() + ": ") + e.what());
  } catch (const ImageError& e) {
    return fail(kExitDataErr, e.what());
  } catch (const InputError& e) {
    return fail(kExitNoInput, e.what());
  } catch (const trace::TraceMissing& e) {
    return fail(kExitNoInput, e.what());
  } catch (const KvmUnavailable& e) {
    return fail(kExitUnavailable, e.what());
  } catch (const KvmError& e) {
    return fail(kExitUnavailable, std::string("KVM: ") + e.what());
  } catch (const NetError& e) {
    return fail(kExitUnavailable, std::string("network: ") + e.what());
  } catch (const OutputError& e) {
    return fail(kExitCantCreate, e.what());
  } catch (const trace::TraceWriteError& e) {
    return fail(kExitIoErr, std::string("writing the trace failed: ") + e.what() +
                                "; the file holds every event written before the failure");
  } catch (const std::exception& e) {
    return fail(kExitSoftware, std::string("internal error (a bug in rrvm): ") + e.what());
  }
}

}  // namespace rrvm::cli
