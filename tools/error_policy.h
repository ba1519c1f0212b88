// The CLI's one error policy. Commands throw; main.cc runs every command
// through run_guarded(), the only place that turns an exception type into an
// exit status and a message:
//   64 UsageError, ConfigError (a bad option value)   65 DataError, trace::TraceError, ImageError
//   66 InputError, trace::TraceMissing                69 KvmUnavailable, KvmError, NetError
//   73 OutputError                                    74 trace::TraceWriteError
// Anything else is a bug in rrvm: 70 "internal error". Whatever comes from
// outside (a trace, a file name, a value typed) is escaped on the way to the
// terminal (trace/text_escape.h).
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include "firmware/load_error.h"
#include "trace/event.h"
#include "vmm/option_value.h"

namespace rrvm::cli {

struct UsageError : std::runtime_error {  // bad option or argument (64)
  using std::runtime_error::runtime_error;
};
struct DataError : std::runtime_error {  // an input's content is invalid (65)
  using std::runtime_error::runtime_error;
};
struct InputError : std::runtime_error {  // missing/unreadable input file (66)
  using std::runtime_error::runtime_error;
};
struct OutputError : std::runtime_error {  // cannot create an output file or directory (73)
  using std::runtime_error::runtime_error;
};

// Runs a command body and maps what it throws (see above) to its exit status,
// printing "rrvm: error: <message>" on stderr.
int run_guarded(const std::function<int()>& body);

// Runs `body`, which reads the file `path`, so that what it throws about the
// file's content names the file: trace damage, an embedded image that does
// not load, or a machine configuration this rrvm does not accept all become
// DataError "<path>: ..." (65). A configuration error stays one, never a
// trace error at some byte.
template <typename Body>
decltype(auto) reading(const std::string& path, Body&& body) {
  try {
    return body();
  } catch (const trace::TraceError& e) {
    throw DataError(path + ": " + e.what());
  } catch (const ImageError& e) {
    throw DataError(path + ": embedded image: " + e.what());
  } catch (const ConfigError& e) {
    throw DataError(path + ": machine configuration: " + e.what());
  }
}

}  // namespace rrvm::cli
