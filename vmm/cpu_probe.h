// Which instructions this host's KVM can execute in guest ring 0.
//
// KVM_GET_SUPPORTED_CPUID says what the hardware and KVM offer, not what
// KVM's instruction emulator can run. On hosts where guest ring 0 is
// emulated (nested PVM), cmpxchg16b, xsave, clac, popcnt, ... end in
// KVM_EXIT_INTERNAL_ERROR although the table lists their features. So rrvm
// asks the host once: a tiny ring-0 guest, built here (no file), executes
// each instruction of interest in 64-bit mode and the exit says how it went.
// The result is cached per host (kernel, CPU model, KVM's CPUID table),
// stored in every trace header, shown by `rrvm info`, and used by the CPU
// models (vmm/cpu_model.h) to hide or refuse what the host cannot run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmm/kvm.h"

namespace rrvm {

enum class ProbeOutcome : uint8_t {
  kWorks = 0,             // ran (int3 and int n: reached their handlers)
  kEmulationFailure = 1,  // KVM_EXIT_INTERNAL_ERROR: KVM's emulator cannot run it
  kFaults = 2,            // raised an exception although the feature is offered
  kNotOffered = 3,        // KVM does not offer the feature: not tried
};
const char* to_string(ProbeOutcome o);

struct ProbeResult {
  std::string instruction;  // "cmpxchg16b"
  std::string feature;      // its CPUID flag ("cx16"); empty for baseline x86-64
  ProbeOutcome outcome = ProbeOutcome::kWorks;
  uint8_t vector = 0;  // kFaults: the exception vector (0xff: no exception, e.g. a shutdown)
  friend bool operator==(const ProbeResult&, const ProbeResult&) = default;
};

struct HostProbe {
  std::vector<ProbeResult> results;
  // CPUID flags this host's KVM shows every guest whatever its table says
  // (nested PVM ORs host bits into leaf 1 and replaces leaf 7): measured by
  // setting a table with no flags and reading it back (KVM_GET_CPUID2).
  std::vector<std::string> forced_features;
  std::string source;  // "probed now", "cached in PATH"
  // Features whose instruction the host offers but cannot execute.
  std::vector<std::string> broken_features() const;
  const ProbeResult* find(const std::string& instruction) const;
};

// The probe of this host, from the cache when it has one (see cpu_probe.cc
// for where), else run now and cached. Throws KvmError when the probe VM
// cannot be built.
HostProbe probe_host(const Kvm& kvm, const std::vector<CpuidEntry>& supported);
// Always runs the probe (no cache).
HostProbe run_host_probe(const Kvm& kvm, const std::vector<CpuidEntry>& supported);

// The instructions probed, in order, with the feature each needs.
struct ProbedInstruction {
  const char* instruction;
  const char* feature;  // "" for baseline x86-64
  std::vector<uint8_t> code;
};
const std::vector<ProbedInstruction>& probed_instructions();

// The cache file's text ("forced: ..." and one "cmpxchg16b cx16
// emulation-failure 0" line per probe), and back. parse_probe gives nullopt
// for text that is not a probe this rrvm wrote; `source` is left empty.
std::string format_probe(const HostProbe& probe);
std::optional<HostProbe> parse_probe(const std::string& text);

}  // namespace rrvm
