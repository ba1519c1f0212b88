// What a trace records about the machine, and how replay rebuilds it: the
// configuration as key/value pairs, the CPUID table, host facts, and the
// guest images by content hash (embedded as blobs, so one file is a whole bug
// report).
#pragma once

#include <string>
#include <vector>

#include "trace/trace_reader.h"
#include "trace/trace_writer.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/machine_config.h"

namespace rrvm {

// `machine` gives the CPUID table and the host's instruction probe.
// `reads_modelled`: the recording leaves read values to the device models
// (not --log-values); the header then names this build's models.
trace::HeaderInfo make_trace_header(const MachineConfig& cfg, const Machine& machine,
                                    const MachineImages& images, const std::string& rrvm_version,
                                    bool reads_modelled = true);
// Embeds the images named in the header as blobs.
void write_image_blobs(trace::TraceWriter& writer, const MachineImages& images);

// The recorded machine; a key the trace lacks (traces written before the
// key existed) takes the value such traces had: MachineOption's
// absent_from_trace (an HPET added later is off), else the default. Throws ConfigError for a key or
// value this rrvm does not accept, trace::TraceError for missing images.
MachineConfig config_from_trace(const trace::HeaderInfo& header);
MachineImages images_from_trace(trace::TraceReader& reader);
// The CPU the trace's guest saw, for Machine (replay uses it, not a table
// built on this host). Throws trace::TraceError for a table KVM could never
// take (no leaves, more than KVM's 256).
RecordedCpu cpu_from_trace(const trace::HeaderInfo& header);

}  // namespace rrvm
