#include "replay/trace_header.h"

#include <ctime>

#include "vmm/host_info.h"

#include "replay/device_models.h"

namespace rrvm {

namespace {

std::string base_name(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The two enums are one format: vmm's is what the probe finds, trace's is
// what the file stores.
static_assert(uint8_t(ProbeOutcome::kWorks) == uint8_t(trace::ProbeOutcome::kWorks));
static_assert(uint8_t(ProbeOutcome::kEmulationFailure) ==
              uint8_t(trace::ProbeOutcome::kEmulationFailure));
static_assert(uint8_t(ProbeOutcome::kFaults) == uint8_t(trace::ProbeOutcome::kFaults));
static_assert(uint8_t(ProbeOutcome::kNotOffered) == uint8_t(trace::ProbeOutcome::kNotOffered));

// KVM_MAX_CPUID_ENTRIES: KVM_SET_CPUID2 refuses longer tables.
constexpr size_t kMaxCpuidLeaves = 256;

}  // namespace

trace::HeaderInfo make_trace_header(const MachineConfig& cfg, const Machine& machine,
                                    const MachineImages& images, const std::string& rrvm_version,
                                    bool reads_modelled) {
  trace::HeaderInfo h;
  h.rrvm_version = rrvm_version;
  h.created_unix_seconds = static_cast<int64_t>(std::time(nullptr));
  h.host_kernel = host_kernel();
  h.host_cpu = host_cpu();
  for (const auto& [cap, name] : Kvm::required_caps()) h.kvm_capabilities.push_back(name);
  h.config = cfg.to_pairs();
  h.clock_mode = to_string(cfg.clock);
  h.reads_modelled = reads_modelled;
  h.device_models = device_models_version();
  for (const auto& e : machine.cpuid()) {
    h.cpuid.push_back({e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx});
  }
  h.host_forced_cpuid = machine.host_probe().forced_features;
  for (const ProbeResult& p : machine.host_probe().results) {
    h.host_probe.push_back(
        {p.instruction, p.feature, static_cast<trace::ProbeOutcome>(p.outcome), p.vector});
  }
  h.images.push_back({"kernel", base_name(cfg.kernel_path), trace::content_hash(images.kernel),
                      images.kernel.size()});
  if (!images.initrd.empty()) {
    h.images.push_back({"initrd", base_name(cfg.initrd_path), trace::content_hash(images.initrd),
                        images.initrd.size()});
  }
  return h;
}

void write_image_blobs(trace::TraceWriter& writer, const MachineImages& images) {
  writer.add_blob("kernel", images.kernel);
  if (!images.initrd.empty()) writer.add_blob("initrd", images.initrd);
}

MachineConfig config_from_trace(const trace::HeaderInfo& header) {
  MachineConfig cfg;
  for (const MachineOption& o : machine_option_table()) {
    if (o.absent_from_trace) cfg.set(o.key, o.absent_from_trace);
  }
  for (const auto& [key, value] : header.config) cfg.set(key, value);
  for (const auto& img : header.images) {
    if (img.role == "kernel") cfg.kernel_path = img.name;
    if (img.role == "initrd") cfg.initrd_path = img.name;
  }
  return cfg;
}

RecordedCpu cpu_from_trace(const trace::HeaderInfo& header) {
  if (header.cpuid.empty() || header.cpuid.size() > kMaxCpuidLeaves) {
    throw trace::TraceError("the trace's CPUID table has " + std::to_string(header.cpuid.size()) +
                                " leaves (a guest CPU has 1 to " + std::to_string(kMaxCpuidLeaves) +
                                ")",
                            0);
  }
  RecordedCpu cpu;
  for (const trace::CpuidLeaf& l : header.cpuid) {
    CpuidEntry e{};
    e.function = l.function, e.index = l.index, e.flags = l.flags;
    e.eax = l.eax, e.ebx = l.ebx, e.ecx = l.ecx, e.edx = l.edx;
    cpu.cpuid.push_back(e);
  }
  if (!header.host_probe.empty()) {
    cpu.probe.emplace();
    for (const trace::InstructionProbe& p : header.host_probe) {
      auto outcome = p.outcome > trace::ProbeOutcome::kNotOffered
                         ? ProbeOutcome::kFaults  // a newer rrvm's outcome: not "works"
                         : static_cast<ProbeOutcome>(p.outcome);
      cpu.probe->push_back({p.instruction, p.feature, outcome, p.vector});
    }
  }
  return cpu;
}

MachineImages images_from_trace(trace::TraceReader& reader) {
  MachineImages images;
  // blob() checks the bytes against the image's hash and size.
  for (const auto& img : reader.header().images)
    (img.role == "initrd" ? images.initrd : images.kernel) = reader.blob(img.hash);
  if (images.kernel.empty()) {
    trace::TraceError e("the trace embeds no kernel image");
    e.set_file(reader.path());
    throw e;
  }
  return images;
}

}  // namespace rrvm
