// The CPU the guest sees: a named model, never the host passed through
// (DESIGN.md, Determinism model, 7).
//
// rrvm64 (the default) is a fixed table in the spirit of QEMU's named models:
// x86-64 baseline plus what a Linux guest commonly wants and every x86-64
// host's KVM can run and rrvm can record. `host` is KVM's supported table
// made safe to record. Either table is stored in the trace, and replay uses
// the stored table, checked against the replay host before it runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/cpu_probe.h"
#include "vmm/kvm.h"
#include "vmm/machine_config.h"  // CpuModel

namespace rrvm {

// What this host offers guests.
struct HostCpu {
  std::vector<CpuidEntry> supported;  // KVM_GET_SUPPORTED_CPUID
  HostProbe probe;                    // what its KVM can execute in ring 0
  // RDMSR/WRMSR of the x2APIC MSRs and IA32_APIC_BASE reach rrvm's LAPIC
  // (KVM_CAP_X86_USER_SPACE_MSR and KVM_CAP_X86_MSR_FILTER): x2APIC can be
  // shown to the guest.
  bool x2apic_modelled = false;
};

// The host cannot give the guest a CPU feature it needs. The message names
// the features. Exit 69, as for an unusable /dev/kvm.
class CpuUnavailable : public KvmUnavailable {
 public:
  using KvmUnavailable::KvmUnavailable;
};

// The rrvm64 table as defined, before it meets a host.
std::vector<CpuidEntry> rrvm64_cpuid(uint8_t apic_id);
// --cpu host: KVM's supported table with the APIC ID fields set to
// `apic_id`, KVM's paravirtual leaves removed, what rrvm cannot record
// (RDRAND, RDSEED, RDPID, RDTSCP, TSX, TSC deadline; x2APIC where it cannot
// be modelled) and what the probe found broken hidden, with their dependents.
std::vector<CpuidEntry> host_cpuid(const HostCpu& host, uint8_t apic_id);

// Flags set in `table` that this host cannot show a guest (KVM does not
// offer them and does not show them anyway), by name, and physical address
// bits beyond the host's ("40 physical address bits (host: 39)").
std::vector<std::string> unsupported_features(const std::vector<CpuidEntry>& table,
                                              const HostCpu& host);

// The table for `model` on this host. Throws CpuUnavailable naming every
// model feature the host lacks or cannot execute.
std::vector<CpuidEntry> model_cpuid(CpuModel model, const HostCpu& host, uint8_t apic_id);

// A table from a trace, before replay gives it to KVM: throws CpuUnavailable
// naming what this host cannot provide; returns warnings for instructions
// rrvm completes for KVM on one host and not on the other (each completion
// is an exit of its own). `recorded_probe` is null for traces from before
// the probe was recorded.
std::vector<std::string> check_recorded_cpuid(const std::vector<CpuidEntry>& table,
                                              const std::vector<ProbeResult>* recorded_probe,
                                              const HostCpu& host);

// How the table KVM shows the guest (KVM_GET_CPUID2) differs from the one
// it was given: flags it added and dropped by name, other registers and
// leaves as "cpuid.7.0.eax 0x0 -> 0x1", "cpuid.d.0 added".
struct CpuidDiff {
  std::vector<std::string> added, dropped, changed;
  bool empty() const { return added.empty() && dropped.empty() && changed.empty(); }
};
CpuidDiff diff_cpuid(const std::vector<CpuidEntry>& given, const std::vector<CpuidEntry>& seen);

// Where the table given to KVM came from.
enum class CpuOrigin {
  kModel,     // --cpu: KVM may add what it cannot hide (warned), must not drop
  kTrace,     // a trace that recorded what its guest saw: KVM must show exactly that
  kOldTrace,  // a trace from before that (no probe): differences are warned about
};
// Checks what the guest sees (`seen`, read back after KVM_SET_CPUID2 of
// `given`). Throws CpuUnavailable where the guest would not see the CPU it
// must; returns warnings (features rrvm cannot hide, features whose
// instructions this host's KVM cannot execute in ring 0).
std::vector<std::string> check_guest_view(const std::vector<CpuidEntry>& given,
                                          const std::vector<CpuidEntry>& seen, CpuOrigin origin,
                                          const HostCpu& host);

// Names of the flags set in `table` (for `rrvm info` and reports).
std::vector<std::string> feature_names(const std::vector<CpuidEntry>& table);
// The brand string (CPUID 0x80000002-4) and vendor (CPUID 0); empty when absent.
std::string brand_string(const std::vector<CpuidEntry>& table);
std::string vendor_string(const std::vector<CpuidEntry>& table);

}  // namespace rrvm
