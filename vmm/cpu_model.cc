#include "vmm/cpu_model.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "vmm/cpu_features.h"

namespace rrvm {

namespace {

constexpr uint32_t kExt = 0x80000000;

// ---- rrvm64 ---------------------------------------------------------------
//
// Vendor: AuthenticAMD, with QEMU qemu64's family 15 / model 107 / stepping 1.
// Why AMD: (1) it is what QEMU's default model (qemu64) shows, so an image
// that fails under rrvm can be compared with `qemu -accel kvm -cpu qemu64`
// on the same host, CPUID for CPUID; Linux's init_amd() paths for family 15
// are the ones every QEMU default boot exercises. (2) CPUID leaves outside
// the table read as zeros for an AMD guest, whatever KVM's lookup falls back
// to (for Intel guests KVM repeats the highest basic leaf), so the table is
// all there is to know. (3) Guests choose their system-call path by vendor:
// a 32-bit program on a 64-bit Linux uses SYSCALL when the vendor is AMD
// and SYSENTER when it is Intel.
// On an Intel host, KVM runs an AMD guest's compat-mode SYSCALL by emulating
// it after the #UD it intercepts (em_syscall allows it for AMD guests), and
// a compat-mode SYSENTER, which AMD CPUs refuse with #UD, executes natively
// instead: a guest that relies on that #UD sees the host's vendor there.
// Recording and replay on hosts of the same vendor agree bit for bit;
// replay on the other vendor is checked like any replay (register and
// memory digests) and stops with a divergence report if a guest hits such
// a difference.
constexpr uint32_t kVendorEbx = 0x68747541;  // "Auth"
constexpr uint32_t kVendorEdx = 0x69746e65;  // "enti"
constexpr uint32_t kVendorEcx = 0x444d4163;  // "cAMD"
// Family 0xF, extended model 6, model 0xB (107), stepping 1 (CPUID.01H:EAX layout).
constexpr uint32_t kSignature = 0x00060fb1;
constexpr uint32_t kMaxBasic = 7, kMaxExtended = kExt | 8;
constexpr char kBrand[] = "rrvm64 virtual CPU";

// CPUID.01H:EDX — the x86-64 baseline as qemu64 has it: fpu de pse tsc msr
// pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2.
constexpr uint32_t kLeaf1Edx = 0x078bfbfd;
// CPUID.01H:ECX — x2APIC (the userspace LAPIC models it through MSR exits)
// and "hypervisor". Not SSE3 and up (KVM on nested hosts need not offer
// them, and a kernel's crc32c/raid6/crypto code would use them in ring 0),
// not CX16/POPCNT/XSAVE/MOVBE (ring-0 emulators cannot run them), not
// TSC-deadline (not modelled), not RDRAND (KVM cannot trap it: replay could
// not reproduce its values).
constexpr uint32_t kLeaf1Ecx = 1u << 21 | 1u << 31;
// CPUID.80000001H:EDX — AMD repeats CPUID.01H:EDX bits 0-9, 12-17, 23, 24
// here (APM vol. 3, E.4.2), plus syscall, nx and lm. No RDTSCP, no 1 GiB pages.
constexpr uint32_t kAmdLeaf1Aliases = 0x0183f3ff;
constexpr uint32_t kExt1Edx = (kLeaf1Edx & kAmdLeaf1Aliases) | (1u << 11) | (1u << 20) | (1u << 29);
constexpr uint32_t kExt1Ecx = 1u << 0;   // lahf_lm
constexpr uint32_t kLeaf6Eax = 1u << 2;  // arat: the (userspace) LAPIC timer never stops
// CPUID.80000005H/6H: the K8-like L1/L2 caches and TLBs QEMU's legacy AMD
// cache info shows (64 KiB 2-way L1s, 512 KiB 16-way L2, 64-byte lines).
constexpr uint32_t kL1Tlb = 0x01ff01ff, kL1Cache = 0x40020140;
constexpr uint32_t kL2Tlb = 0x00004200, kL2Cache = 0x02008140;
// 39 physical address bits, the fewest of any x86-64 host KVM runs on
// (Intel client parts), so the model fits every host; 48 linear bits.
constexpr uint32_t kAddressSizes = (48u << 8) | 39u;

CpuidEntry leaf(uint32_t function, uint32_t eax = 0, uint32_t ebx = 0, uint32_t ecx = 0,
                uint32_t edx = 0) {
  CpuidEntry e{};
  e.function = function;
  e.eax = eax, e.ebx = ebx, e.ecx = ecx, e.edx = edx;
  return e;
}

// Twelve bytes per register group, little-endian: 0x80000002-4 hold 48.
void add_brand(std::vector<CpuidEntry>& t, const char* brand) {
  char text[48] = {};
  std::strncpy(text, brand, sizeof text - 1);
  for (uint32_t i = 0; i < 3; ++i) {
    uint32_t r[4];
    std::memcpy(r, text + 16 * i, 16);
    t.push_back(leaf(kExt | (2 + i), r[0], r[1], r[2], r[3]));
  }
}

// ---- host -----------------------------------------------------------------

// Features --cpu host never shows, and why: their results come from the host
// without a VM exit, so a recording could not hold them (RDRAND, RDSEED,
// RDPID, RDTSCP, RDPRU), aborts depend on cache timing (TSX), the userspace
// LAPIC does not model them (TSC deadline), they wait on the TSC (WAITPKG).
constexpr const char* kUnrecordable[] = {
    "rdrand", "rdseed", "rdpid", "rdtscp", "rdpru", "hle", "rtm", "waitpkg", "tsc_deadline_timer"};

// Without MSR exits KVM would answer the x2APIC MSRs itself (with #GP: it
// has no LAPIC of its own here) while CPUID promised them.
constexpr const char* kNeedsMsrExits =
    "x2apic (KVM lacks KVM_CAP_X86_USER_SPACE_MSR or KVM_CAP_X86_MSR_FILTER, which rrvm's "
    "x2APIC needs)";

// KVM's own paravirtual interface (0x40000000-0x400000ff: kvmclock, steal
// time, async PF, PV EOI...) lets the host write guest memory behind the
// recorder. Hyper-V leaves live there too on hosts that offer them.
bool paravirtual_leaf(uint32_t function) {
  return function >= 0x40000000 && function < 0x50000000;
}

// The initial APIC ID fields: CPUID.01H:EBX[31:24], the x2APIC ID in
// CPUID.0BH/1FH:EDX, AMD's extended APIC ID in CPUID.8000001EH:EAX.
void set_apic_id(std::vector<CpuidEntry>& t, uint8_t apic_id) {
  for (CpuidEntry& e : t) {
    if (e.function == 1) e.ebx = (e.ebx & 0x00ffffff) | uint32_t(apic_id) << 24;
    if (e.function == 0xb || e.function == 0x1f) e.edx = apic_id;
    if (e.function == 0x8000001e) e.eax = apic_id;
  }
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

constexpr const char* kRegNames[] = {"eax", "ebx", "ecx", "edx"};

bool is_flag_word(uint32_t function, uint32_t index, CpuReg r) {
  for (const FlagWord& w : flag_words()) {
    if (w.function == function && w.index == index && w.reg == r) return true;
  }
  return false;
}

std::string describe(const CpuidDiff& d) {
  std::string out;
  if (!d.added.empty()) out += "; it adds " + join(d.added);
  if (!d.dropped.empty()) out += "; it drops " + join(d.dropped);
  if (!d.changed.empty()) out += "; it changes " + join(d.changed);
  return out;
}

// Features KVM shows although the table leaves them out: say which, and
// which of them make a recording unreplayable.
std::string cannot_hide(const std::vector<std::string>& added, CpuOrigin origin) {
  std::string out =
      "this host's KVM shows the guest CPU features " +
      std::string(origin == CpuOrigin::kModel ? "the model does not have"
                                              : "the trace's guest did not have") +
      ", and rrvm cannot hide them (nested KVM passes host CPUID bits through): " + join(added);
  std::vector<std::string> unrecordable;
  for (const char* name : kUnrecordable) {
    if (contains(added, name)) unrecordable.push_back(name);
  }
  if (!unrecordable.empty()) {
    out += ". Guest use of " + join(unrecordable) +
           " is not recorded (KVM does not trap them) and will not replay";
  }
  return out;
}

uint32_t regs_text(const CpuidEntry* e, int i) {
  if (!e) return 0;
  const uint32_t r[4] = {e->eax, e->ebx, e->ecx, e->edx};
  return r[i];
}

}  // namespace

std::vector<CpuidEntry> rrvm64_cpuid(uint8_t apic_id) {
  std::vector<CpuidEntry> t;
  t.push_back(leaf(0, kMaxBasic, kVendorEbx, kVendorEcx, kVendorEdx));
  // EBX: CLFLUSH line 8 x 8 bytes; the initial APIC ID in bits 31:24.
  t.push_back(leaf(1, kSignature, uint32_t(apic_id) << 24 | 8u << 8, kLeaf1Ecx, kLeaf1Edx));
  for (uint32_t f = 2; f <= 5; ++f) t.push_back(leaf(f));  // Intel-only or absent (MONITOR)
  t.push_back(leaf(6, kLeaf6Eax));
  CpuidEntry l7 = leaf(7);  // subleaf 0: no structured extended features, max subleaf 0
  l7.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  t.push_back(l7);
  t.push_back(leaf(kExt, kMaxExtended, kVendorEbx, kVendorEcx, kVendorEdx));
  t.push_back(leaf(kExt | 1, kSignature, 0, kExt1Ecx, kExt1Edx));
  add_brand(t, kBrand);
  t.push_back(leaf(kExt | 5, kL1Tlb, kL1Tlb, kL1Cache, kL1Cache));
  t.push_back(leaf(kExt | 6, kL2Tlb, kL2Tlb, kL2Cache, 0));
  t.push_back(leaf(kExt | 7));
  t.push_back(leaf(kExt | 8, kAddressSizes));
  return t;
}

std::vector<CpuidEntry> host_cpuid(const HostCpu& host, uint8_t apic_id) {
  std::vector<CpuidEntry> t;
  for (const CpuidEntry& e : host.supported) {
    if (!paravirtual_leaf(e.function)) t.push_back(e);
  }
  set_apic_id(t, apic_id);
  for (const char* name : kUnrecordable) clear_feature(t, *find_cpu_feature(name));
  if (!host.x2apic_modelled) clear_feature(t, *find_cpu_feature("x2apic"));
  for (const std::string& name : host.probe.broken_features()) {
    if (const CpuFeature* f = find_cpu_feature(name)) clear_feature(t, *f);
  }
  if (CpuidEntry* l1 = find_leaf(t, 1)) l1->ecx |= 1u << 31;  // hypervisor
  return t;
}

std::vector<std::string> unsupported_features(const std::vector<CpuidEntry>& table,
                                              const HostCpu& host) {
  std::vector<std::string> offered = set_flag_names(host.supported), out;
  for (const std::string& name : set_flag_names(table)) {
    if (!contains(offered, name) && !contains(host.probe.forced_features, name))
      out.push_back(name);
  }
  if (!host.x2apic_modelled && has_feature(table, *find_cpu_feature("x2apic")))
    out.push_back(kNeedsMsrExits);
  auto want_bits = physical_address_bits(table), host_bits = physical_address_bits(host.supported);
  if (want_bits && host_bits && *want_bits > *host_bits) {
    out.push_back(std::to_string(*want_bits) +
                  " physical address bits (host: " + std::to_string(*host_bits) + ")");
  }
  return out;
}

std::vector<CpuidEntry> model_cpuid(CpuModel model, const HostCpu& host, uint8_t apic_id) {
  if (model == CpuModel::kHost) return host_cpuid(host, apic_id);
  std::vector<CpuidEntry> t = rrvm64_cpuid(apic_id);
  std::vector<std::string> missing = unsupported_features(t, host);
  for (const std::string& name : host.probe.broken_features()) {
    const CpuFeature* f = find_cpu_feature(name);
    if (f && has_feature(t, *f) && !contains(missing, name))
      missing.push_back(name + " (KVM cannot execute it in ring 0 here)");
  }
  if (!missing.empty()) {
    throw CpuUnavailable("this host's KVM cannot provide the rrvm64 CPU: it lacks " +
                         join(missing) + " (try --cpu host)");
  }
  return t;
}

std::vector<std::string> check_recorded_cpuid(const std::vector<CpuidEntry>& table,
                                              const std::vector<ProbeResult>* recorded_probe,
                                              const HostCpu& host) {
  std::vector<std::string> missing = unsupported_features(table, host);
  if (!missing.empty()) {
    throw CpuUnavailable("the trace's CPU has features this host's KVM cannot provide: " +
                         join(missing) + "; replay it on a host that has them");
  }
  std::vector<std::string> warnings;
  if (!recorded_probe) return warnings;
  // rrvm completes these for KVM where KVM cannot (vmm/instruction_completion.h).
  for (const char* insn :
       {"int3", "fwait", "clac", "stac", "popcnt", "ldmxcsr", "paddq", "pshufb"}) {
    const ProbeResult* here = host.probe.find(insn);
    auto there = std::find_if(recorded_probe->begin(), recorded_probe->end(),
                              [&](const ProbeResult& r) { return r.instruction == insn; });
    if (!here || there == recorded_probe->end()) continue;
    bool fails_here = here->outcome == ProbeOutcome::kEmulationFailure;
    bool failed_there = there->outcome == ProbeOutcome::kEmulationFailure;
    if (fails_here != failed_there) {
      warnings.push_back(std::string(insn) + " in ring 0 " +
                         (failed_there ? "needed rrvm's help where this trace was recorded"
                                       : "ran in KVM where this trace was recorded") +
                         " and " + (fails_here ? "needs it" : "does not") +
                         " here: replay diverges at the first one the guest executes");
    }
  }
  return warnings;
}

CpuidDiff diff_cpuid(const std::vector<CpuidEntry>& given, const std::vector<CpuidEntry>& seen) {
  CpuidDiff d;
  std::vector<std::string> before = set_flag_names(given), after = set_flag_names(seen);
  for (const std::string& n : after) {
    if (!contains(before, n)) d.added.push_back(n);
  }
  for (const std::string& n : before) {
    if (!contains(after, n)) d.dropped.push_back(n);
  }
  auto leaf_name = [](const CpuidEntry& e) {
    char b[32];
    std::snprintf(b, sizeof b, "cpuid.%x.%x", e.function, e.index);
    return std::string(b);
  };
  for (const CpuidEntry& g : given) {
    const CpuidEntry* s = find_leaf(seen, g.function, g.index);
    if (!s) {
      d.changed.push_back(leaf_name(g) + " dropped");
      continue;
    }
    for (CpuReg r : {CpuReg::kEax, CpuReg::kEbx, CpuReg::kEcx, CpuReg::kEdx}) {
      if (is_flag_word(g.function, g.index, r) || reg_of(g, r) == reg_of(*s, r)) continue;
      char b[96];
      std::snprintf(b, sizeof b, "%s.%s 0x%x -> 0x%x", leaf_name(g).c_str(), kRegNames[int(r)],
                    reg_of(g, r), reg_of(*s, r));
      d.changed.push_back(b);
    }
  }
  for (const CpuidEntry& s : seen) {
    if (!find_leaf(given, s.function, s.index)) d.changed.push_back(leaf_name(s) + " added");
  }
  return d;
}

std::vector<std::string> check_guest_view(const std::vector<CpuidEntry>& given,
                                          const std::vector<CpuidEntry>& seen, CpuOrigin origin,
                                          const HostCpu& host) {
  CpuidDiff d = diff_cpuid(given, seen);
  if (origin == CpuOrigin::kTrace && !d.empty()) {
    throw CpuUnavailable("this host's KVM does not show the guest the CPU the trace recorded" +
                         describe(d) + "; replay it on a host like the recording's");
  }
  if (origin == CpuOrigin::kModel && !d.dropped.empty()) {
    throw CpuUnavailable("this host's KVM drops CPU features of the model: " + join(d.dropped));
  }
  std::vector<std::string> warnings;
  if (!d.added.empty()) warnings.push_back(cannot_hide(d.added, origin));
  if (origin == CpuOrigin::kOldTrace && !d.dropped.empty())
    warnings.push_back("this host's KVM drops CPU features the trace's guest had: " +
                       join(d.dropped));
  std::vector<std::string> broken;
  for (const std::string& name : host.probe.broken_features()) {
    const CpuFeature* f = find_cpu_feature(name);
    if (f && has_feature(seen, *f)) broken.push_back(name);
  }
  if (!broken.empty()) {
    warnings.push_back("the guest sees " + join(broken) +
                       ", whose instructions this host's KVM cannot execute in ring 0: a kernel "
                       "that uses them there stops with an emulation failure");
  }
  return warnings;
}

std::vector<std::string> feature_names(const std::vector<CpuidEntry>& table) {
  std::vector<std::string> out;
  for (const CpuFeature& f : cpu_features()) {
    if (has_feature(table, f)) out.emplace_back(f.name);
  }
  return out;
}

std::string brand_string(const std::vector<CpuidEntry>& table) {
  char text[49] = {};
  for (uint32_t i = 0; i < 3; ++i) {
    const CpuidEntry* e = find_leaf(table, kExt | (2 + i));
    for (int r = 0; r < 4; ++r) {
      uint32_t v = regs_text(e, r);
      std::memcpy(text + 16 * i + 4 * r, &v, 4);
    }
  }
  return text;
}

std::string vendor_string(const std::vector<CpuidEntry>& table) {
  const CpuidEntry* e = find_leaf(table, 0);
  if (!e) return "";
  char text[13] = {};
  std::memcpy(text, &e->ebx, 4);
  std::memcpy(text + 4, &e->edx, 4);
  std::memcpy(text + 8, &e->ecx, 4);
  return text;
}

}  // namespace rrvm
