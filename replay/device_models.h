// The version of the device models this rrvm runs. A trace whose read values
// are left to the models (trace::HeaderInfo::reads_modelled) names the
// version that recorded it; a replay by other models must say so, since
// where the models answer a read differently the replay diverges (the
// digests catch it). Traces recorded with --log-values store every value and
// replay on any models.
#pragma once

#include <string>

#include "trace/event.h"

namespace rrvm {

// A hash of the sources that decide what a guest reads (devices/, firmware/,
// vmm/), 16 hex digits; generated at build time by replay/device_models.cmake.
const char* device_models_version();

// Empty when `header`'s values replay on this build's models; otherwise a
// sentence saying that the trace leaves its reads to other device models.
std::string device_models_note(const trace::HeaderInfo& header);

}  // namespace rrvm
