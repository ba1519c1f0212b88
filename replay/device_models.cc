#include "replay/device_models.h"

#include "replay/device_models_version.h"
#include "trace/text_escape.h"

namespace rrvm {

const char* device_models_version() {
  return RRVM_DEVICE_MODELS;
}

std::string device_models_note(const trace::HeaderInfo& header) {
  if (!header.reads_modelled || header.device_models == device_models_version()) return "";
  std::string theirs = header.device_models.empty()
                           ? std::string("unnamed")
                           : trace::escape_text(header.device_models, trace::Escape::kLine);
  return "the trace leaves its read values to the device models that recorded it (models " +
         theirs + "); this rrvm's models are " + device_models_version() +
         ": where they answer a read differently, replay diverges at the next digest. A trace "
         "meant for other builds is recorded with --log-values";
}

}  // namespace rrvm
