#include "vmm/cpu_probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "vmm/cpu_features.h"
#include "vmm/guest_ram.h"
#include "vmm/host_info.h"
#include "vmm/kicker.h"
#include "vmm/x86_arch.h"
#include "vmm/x86_boot.h"

namespace rrvm {

namespace {

// Bump when the list of probes or their meaning changes: old cache files
// are then ignored.
constexpr int kProbeVersion = 4;

// The probe guest's memory (2 MiB of RAM): identity-mapping page tables and
// GDT (x86_boot.h), an IDT whose 32 exception vectors lead to stubs that
// report the vector on port kVectorPort, the instruction under test followed
// by HLT, a zeroed data area for its memory operand, and a stack.
constexpr uint64_t kPageTables = 0x1000;
constexpr uint64_t kIdt = 0x8000;
constexpr uint64_t kStubs = 0x9000;
constexpr uint64_t kCode = 0xa000;
constexpr uint64_t kData = 0xc000;  // 8 KiB, 64-byte aligned (XSAVE areas)
constexpr uint64_t kDataSize = 0x2000;
constexpr uint64_t kStackTop = 0x20000;
constexpr uint16_t kVectorPort = 0x81;
constexpr int kVectors = 32;
constexpr double kProbeSeconds = 2;

// Encodings as GNU as emits them for 64-bit mode; memory operands are [rdi].
const std::vector<ProbedInstruction> kProbes = {
    {"int3", "", {0xcc}},
    {"int", "", {0xcd, 0x1f}},  // int $0x1f: a software interrupt through gate 31
    {"fwait", "", {0x9b}},
    {"fxsave", "", {0x0f, 0xae, 0x07}},
    {"fxrstor", "", {0x0f, 0xae, 0x0f}},
    {"ldmxcsr", "", {0x0f, 0xae, 0x17}},  // loads 0 from [rdi]: a valid MXCSR
    {"stmxcsr", "", {0x0f, 0xae, 0x1f}},
    {"movaps", "", {0x0f, 0x28, 0xc1}},
    {"paddq", "", {0x66, 0x0f, 0xd4, 0xc1}},
    {"clflush", "", {0x0f, 0xae, 0x3f}},
    {"lahf", "lahf_lm", {0x9f}},
    {"cmpxchg16b", "cx16", {0xf0, 0x48, 0x0f, 0xc7, 0x0f}},
    {"popcnt", "popcnt", {0xf3, 0x0f, 0xb8, 0xc3}},
    {"lzcnt", "abm", {0xf3, 0x0f, 0xbd, 0xc3}},
    {"movbe", "movbe", {0x0f, 0x38, 0xf0, 0x07}},
    {"haddps", "pni", {0xf2, 0x0f, 0x7c, 0xc1}},
    {"pshufb", "ssse3", {0x66, 0x0f, 0x38, 0x00, 0xc1}},
    {"ptest", "sse4_1", {0x66, 0x0f, 0x38, 0x17, 0xc1}},
    {"crc32", "sse4_2", {0xf2, 0x0f, 0x38, 0xf1, 0xc3}},
    {"aesenc", "aes", {0x66, 0x0f, 0x38, 0xdc, 0xc1}},
    {"pclmulqdq", "pclmulqdq", {0x66, 0x0f, 0x3a, 0x44, 0xc1, 0x00}},
    {"xgetbv", "xsave", {0x0f, 0x01, 0xd0}},
    {"xsave", "xsave", {0x0f, 0xae, 0x27}},
    {"xrstor", "xsave", {0x0f, 0xae, 0x2f}},
    {"xsaveopt", "xsaveopt", {0x0f, 0xae, 0x37}},
    {"xsavec", "xsavec", {0x0f, 0xc7, 0x27}},
    {"clac", "smap", {0x0f, 0x01, 0xca}},
    {"stac", "smap", {0x0f, 0x01, 0xcb}},
    {"clflushopt", "clflushopt", {0x66, 0x0f, 0xae, 0x3f}},
    {"clwb", "clwb", {0x66, 0x0f, 0xae, 0x37}},
    {"andn", "bmi1", {0xc4, 0xe2, 0x60, 0xf2, 0xc1}},
    {"rorx", "bmi2", {0xc4, 0xe3, 0x7b, 0xf0, 0xc3, 0x03}},
    {"adcx", "adx", {0x66, 0x0f, 0x38, 0xf6, 0xc3}},
    {"rdfsbase", "fsgsbase", {0xf3, 0x48, 0x0f, 0xae, 0xc0}},
    {"sha1rnds4", "sha_ni", {0x0f, 0x3a, 0xcc, 0xc1, 0x00}},
    {"rdtscp", "rdtscp", {0x0f, 0x01, 0xf9}},
    {"rdpid", "rdpid", {0xf3, 0x0f, 0xc7, 0xf8}},
};

void put(GuestRam& ram, uint64_t gpa, std::span<const uint8_t> bytes) {
  if (!ram.write(gpa, bytes)) throw std::runtime_error("probe guest layout exceeds its RAM");
}

// 64-bit interrupt gates (SDM vol. 3A, 6.14.1) to one stub per vector:
// mov al, vector; out kVectorPort, al; hlt.
void write_exception_stubs(GuestRam& ram) {
  for (int v = 0; v < kVectors; ++v) {
    uint64_t stub = kStubs + 8 * v;
    const uint8_t code[] = {0xb0, uint8_t(v), 0xe6, uint8_t(kVectorPort), 0xf4};
    put(ram, stub, code);
    std::array<uint8_t, 16> gate{};
    gate[0] = uint8_t(stub), gate[1] = uint8_t(stub >> 8);
    gate[2] = 0x10;  // selector: the 64-bit code segment of x86_boot's GDT
    gate[5] = 0x8e;  // present, DPL 0, 64-bit interrupt gate
    gate[6] = uint8_t(stub >> 16), gate[7] = uint8_t(stub >> 24);
    put(ram, kIdt + 16 * v, gate);
  }
}

// A guest can see the feature: KVM offers it, or shows it whatever CPUID says.
bool visible(const std::vector<CpuidEntry>& cpuid, const std::vector<std::string>& forced,
             const char* feature) {
  const CpuFeature* f = find_cpu_feature(feature);
  return (f && has_feature(cpuid, *f)) ||
         std::find(forced.begin(), forced.end(), feature) != forced.end();
}

std::vector<std::string> measure_forced_features(const Kvm& kvm, KvmVm& vm, int id,
                                                 const std::vector<CpuidEntry>& supported) {
  std::vector<CpuidEntry> bare = supported;
  clear_flag_words(bare);
  KvmVcpu vcpu(kvm, vm, id);
  vcpu.set_cpuid(bare);
  return set_flag_names(vcpu.get_cpuid());
}

// CR4 enables what the vCPU's CPUID (as KVM shows it) has.
void prepare_vcpu(KvmVcpu& vcpu, GuestRam& ram, const std::vector<CpuidEntry>& cpuid) {
  vcpu.set_cpuid(cpuid);
  std::vector<CpuidEntry> seen = vcpu.get_cpuid();
  enter_long_mode(vcpu, ram, kPageTables, kCode, 0);
  kvm_sregs s = vcpu.get_sregs();
  s.idt.base = kIdt;
  s.idt.limit = kVectors * 16 - 1;
  s.cr4 |= kCr4Osfxsr | kCr4Osxmmexcpt;
  if (visible(seen, {}, "xsave")) s.cr4 |= kCr4Osxsave;
  if (visible(seen, {}, "fsgsbase")) s.cr4 |= kCr4Fsgsbase;
  vcpu.set_sregs(s);
  kvm_regs r = vcpu.get_regs();
  r.rsp = kStackTop;
  r.rdi = kData;
  r.rax = 1;  // XSAVE component mask: x87 only (in XCR0 from reset)
  r.rdx = 0;
  r.rcx = 0;  // XGETBV: XCR0
  r.rbx = 3;
  vcpu.set_regs(r);
}

ProbeOutcome classify(const kvm_run& run, const ProbedInstruction& p, uint8_t* vector) {
  *vector = 0xff;
  switch (run.exit_reason) {
    case KVM_EXIT_HLT:
      return ProbeOutcome::kWorks;
    case KVM_EXIT_IO:
      if (run.io.port != kVectorPort) return ProbeOutcome::kFaults;
      *vector = reinterpret_cast<const uint8_t*>(&run)[run.io.data_offset];
      // int3 and int n exist to reach their handlers: that is success.
      if ((std::string_view(p.instruction) == "int3" && *vector == 3) ||
          (std::string_view(p.instruction) == "int" && *vector == 0x1f))
        return ProbeOutcome::kWorks;
      return ProbeOutcome::kFaults;
    case KVM_EXIT_INTERNAL_ERROR:
      if (run.internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
        return ProbeOutcome::kEmulationFailure;
      return ProbeOutcome::kFaults;
    default:
      return ProbeOutcome::kFaults;
  }
}

ProbeResult probe_one(const Kvm& kvm, KvmVm& vm, GuestRam& ram, int id,
                      const std::vector<CpuidEntry>& cpuid, const std::vector<std::string>& forced,
                      const ProbedInstruction& p) {
  ProbeResult r{p.instruction, p.feature, ProbeOutcome::kNotOffered, 0};
  if (*p.feature && !visible(cpuid, forced, p.feature)) return r;
  std::vector<uint8_t> code = p.code;
  code.push_back(0xf4);  // hlt: KVM_EXIT_HLT (no in-kernel irqchip)
  put(ram, kCode, code);
  std::vector<uint8_t> zeros(kDataSize, 0);
  put(ram, kData, zeros);
  // A vCPU per probe: no state (a shutdown, a half-done instruction) carries over.
  KvmVcpu vcpu(kvm, vm, id);
  prepare_vcpu(vcpu, ram, cpuid);
  Kicker kicker(vcpu.run_area());
  kicker.arm(Kicker::monotonic_ns() + uint64_t(kProbeSeconds * 1e9));
  if (!vcpu.run()) {
    kicker.acknowledge();
    r.outcome = ProbeOutcome::kFaults;  // no exit at all: it hangs
    r.vector = 0xff;
    return r;
  }
  r.outcome = classify(*vcpu.run_area(), p, &r.vector);
  if (r.outcome != ProbeOutcome::kFaults) r.vector = 0;
  return r;
}

// FNV-1a: the cache key only has to tell hosts apart, not resist anyone.
uint64_t fnv1a(std::string_view s, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// KVM's table without the fields that differ by the host CPU the ioctl ran
// on (initial APIC IDs), so the key is the same on every CPU of the host.
std::string cpuid_key_text(std::vector<CpuidEntry> cpuid) {
  std::string out;
  for (CpuidEntry& e : cpuid) {
    if (e.function == 1) e.ebx &= 0x00ffffff;
    if (e.function == 0xb || e.function == 0x1f) e.edx = 0;
    if (e.function == 0x8000001e) e.eax = 0;
    char b[96];
    std::snprintf(b, sizeof b, "%x.%x.%x %x %x %x %x\n", e.function, e.index, e.flags, e.eax, e.ebx,
                  e.ecx, e.edx);
    out += b;
  }
  return out;
}

// $XDG_CACHE_HOME/rrvm, else $HOME/.cache/rrvm; empty when neither is set.
std::string cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/rrvm";
  const char* home = std::getenv("HOME");
  if (home && *home == '/') return std::string(home) + "/.cache/rrvm";
  return "";
}

std::string cache_path(const std::vector<CpuidEntry>& supported) {
  std::string dir = cache_dir();
  if (dir.empty()) return "";
  uint64_t key = fnv1a("rrvm-cpu-probe " + std::to_string(kProbeVersion) + "\n");
  key = fnv1a(host_kernel() + "\n" + host_kernel_build() + "\n" + host_cpu() + "\n", key);
  key = fnv1a(cpuid_key_text(supported), key);
  char name[48];
  std::snprintf(name, sizeof name, "/cpu-probe-%016llx.txt", static_cast<unsigned long long>(key));
  return dir + name;
}

std::optional<HostProbe> read_cache(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return parse_probe(text.str());
}

// Best effort: a cache that cannot be written means probing on every run.
void write_cache(const std::string& path, const HostProbe& probe) {
  std::string dir = path.substr(0, path.rfind('/'));
  std::string parent = dir.substr(0, dir.rfind('/'));
  ::mkdir(parent.c_str(), 0755);
  ::mkdir(dir.c_str(), 0755);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return;
    out << format_probe(probe);
    if (!out.flush()) {
      ::unlink(tmp.c_str());
      return;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
}

const char* kOutcomeNames[] = {"works", "emulation-failure", "faults", "not-offered"};

}  // namespace

const char* to_string(ProbeOutcome o) {
  auto i = static_cast<size_t>(o);
  return i < std::size(kOutcomeNames) ? kOutcomeNames[i] : "?";
}

std::vector<std::string> HostProbe::broken_features() const {
  std::vector<std::string> out;
  for (const ProbeResult& r : results) {
    bool broken =
        r.outcome == ProbeOutcome::kEmulationFailure || r.outcome == ProbeOutcome::kFaults;
    if (broken && !r.feature.empty() && std::find(out.begin(), out.end(), r.feature) == out.end())
      out.push_back(r.feature);
  }
  return out;
}

const ProbeResult* HostProbe::find(const std::string& instruction) const {
  for (const ProbeResult& r : results) {
    if (r.instruction == instruction) return &r;
  }
  return nullptr;
}

const std::vector<ProbedInstruction>& probed_instructions() {
  return kProbes;
}

HostProbe run_host_probe(const Kvm& kvm, const std::vector<CpuidEntry>& supported) {
  KvmVm vm(kvm);
  GuestRam ram(GuestRam::kMinSize);
  ram.attach(vm, /*log_dirty=*/false);
  write_exception_stubs(ram);
  HostProbe probe;
  probe.source = "probed now";
  int id = 0;
  probe.forced_features = measure_forced_features(kvm, vm, id++, supported);
  for (const ProbedInstruction& p : kProbes) {
    probe.results.push_back(probe_one(kvm, vm, ram, id++, supported, probe.forced_features, p));
  }
  return probe;
}

HostProbe probe_host(const Kvm& kvm, const std::vector<CpuidEntry>& supported) {
  std::string path = cache_path(supported);
  if (!path.empty()) {
    if (auto cached = read_cache(path)) {
      cached->source = "cached in " + path;
      return *cached;
    }
  }
  HostProbe probe = run_host_probe(kvm, supported);
  if (!path.empty()) write_cache(path, probe);
  return probe;
}

std::string format_probe(const HostProbe& probe) {
  std::string out = "rrvm-cpu-probe " + std::to_string(kProbeVersion) + "\nforced:";
  for (const std::string& f : probe.forced_features) out += " " + f;
  out += "\n";
  for (const ProbeResult& r : probe.results) {
    out += r.instruction + " " + (r.feature.empty() ? "-" : r.feature) + " " +
           to_string(r.outcome) + " " + std::to_string(r.vector) + "\n";
  }
  return out;
}

namespace {

std::optional<ProbeResult> parse_result(const std::string& line) {
  std::istringstream fields(line);
  ProbeResult r;
  std::string outcome;
  unsigned vector = 0;
  if (!(fields >> r.instruction >> r.feature >> outcome >> vector) || vector > 0xff)
    return std::nullopt;
  if (r.feature == "-") r.feature.clear();
  auto* name = std::find(std::begin(kOutcomeNames), std::end(kOutcomeNames), outcome);
  if (name == std::end(kOutcomeNames)) return std::nullopt;
  r.outcome = static_cast<ProbeOutcome>(name - std::begin(kOutcomeNames));
  r.vector = static_cast<uint8_t>(vector);
  return r;
}

}  // namespace

std::optional<HostProbe> parse_probe(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != "rrvm-cpu-probe " + std::to_string(kProbeVersion))
    return std::nullopt;
  if (!std::getline(in, line) || line.rfind("forced:", 0) != 0) return std::nullopt;
  HostProbe probe;
  std::istringstream forced(line.substr(7));
  for (std::string f; forced >> f;) probe.forced_features.push_back(f);
  while (std::getline(in, line)) {
    std::optional<ProbeResult> r = parse_result(line);
    if (!r) return std::nullopt;
    probe.results.push_back(std::move(*r));
  }
  if (probe.results.size() != kProbes.size()) return std::nullopt;  // not this rrvm's list
  return probe;
}

}  // namespace rrvm
