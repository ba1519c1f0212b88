// The CPU models without KVM: rrvm64 is one fixed table whose APIC ID comes
// from the machine, that covers its leaf ranges and hides what rrvm cannot
// record; --cpu host is KVM's table with the host's APIC IDs, paravirtual
// leaves and broken features taken out; a model or a recorded table that
// needs what the host lacks is refused with the feature named.
#include "vmm/cpu_model.h"

#include <gtest/gtest.h>

#include <cstring>

#include "vmm/cpu_features.h"

namespace rrvm {
namespace {

CpuidEntry entry(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx,
                 uint32_t edx, uint32_t flags = 0) {
  CpuidEntry e{};
  e.function = function, e.index = index, e.flags = flags;
  e.eax = eax, e.ebx = ebx, e.ecx = ecx, e.edx = edx;
  return e;
}

// KVM_GET_SUPPORTED_CPUID as a 2-CPU AMD host returns it when the ioctl ran
// on CPU 1 (APIC ID 1 in leaf 1 EBX and leaf 0xB EDX), with XSAVE/AVX/AVX2
// and AVX-512F added so the dependency rules have something to clear.
std::vector<CpuidEntry> amd_host_table() {
  constexpr uint32_t kSig = 0x00a10f11;
  return {
      entry(0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),
      entry(1, 0, kSig, 0x01020800, 0xd4202000 | 1u << 30, 0x078bfbff),
      entry(6, 0, 0x4, 0, 0, 0),
      entry(7, 0, 0, 0x01850022 | 1u << 16 | 1u << 18, 1u << 22, 0x20000000, 1),
      entry(0xb, 0, 1, 1, 0x100, 1, 1),
      entry(0xb, 1, 4, 2, 0x201, 1, 1),
      entry(0xd, 0, 0xe7, 0x980, 0x980, 0, 1),
      entry(0xd, 1, 0xf, 0, 0, 0, 1),
      entry(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
      entry(0x40000001, 0, 0x01007efb, 0, 0, 0),
      entry(0x80000000, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65),
      entry(0x80000001, 0, kSig, 0x40000000, 0x00400393, 0x2bd3fbff),
      entry(0x80000008, 0, 0x3030, 0x50020005, 0x7001, 0),
      entry(0x8000001e, 0, 1, 0x100, 0, 0),
  };
}

// A host whose KVM has user-space MSR exits, so rrvm models x2APIC.
HostCpu amd_host() {
  return HostCpu{amd_host_table(), {}, true};
}

ProbeResult probe(const char* insn, const char* feature, ProbeOutcome o) {
  return ProbeResult{insn, feature, o, 0};
}

bool has(const std::vector<CpuidEntry>& t, const char* name) {
  const CpuFeature* f = find_cpu_feature(name);
  EXPECT_NE(f, nullptr) << name;
  return f && has_feature(t, *f);
}

TEST(Rrvm64, InitialApicIdComesFromTheMachine) {
  for (uint8_t id : {0, 1, 7}) {
    std::vector<CpuidEntry> t = rrvm64_cpuid(id);
    EXPECT_EQ(find_leaf(t, 1)->ebx >> 24, id);
    EXPECT_EQ(find_leaf(t, 1)->ebx & 0xffffff, 0x800u) << "CLFLUSH 64 bytes, one logical CPU";
    // No other leaf carries an APIC ID: no 0xB/0x1F topology, no AMD 0x8000001E.
    EXPECT_EQ(find_leaf(t, 0xb), nullptr);
    EXPECT_EQ(find_leaf(t, 0x1f), nullptr);
    EXPECT_EQ(find_leaf(t, 0x8000001e), nullptr);
  }
}

TEST(Rrvm64, IsOneFixedAmdTable) {
  std::vector<CpuidEntry> t = rrvm64_cpuid(0);
  EXPECT_EQ(vendor_string(t), "AuthenticAMD");
  EXPECT_EQ(brand_string(t), "rrvm64 virtual CPU");
  uint32_t eax = find_leaf(t, 1)->eax;
  uint32_t family = (eax >> 8 & 0xf) + (eax >> 20 & 0xff);
  uint32_t model = (eax >> 4 & 0xf) | (eax >> 12 & 0xf0);
  EXPECT_EQ(family, 15u);
  EXPECT_EQ(model, 107u);
  EXPECT_EQ(eax & 0xf, 1u);
  EXPECT_EQ(find_leaf(t, 0x80000001)->eax, eax) << "AMD repeats the signature";
  EXPECT_EQ(physical_address_bits(t), std::optional<uint8_t>(39));
  std::vector<CpuidEntry> again = rrvm64_cpuid(0);
  ASSERT_EQ(t.size(), again.size());
  for (size_t i = 0; i < t.size(); ++i)
    EXPECT_EQ(std::memcmp(&t[i], &again[i], sizeof t[i]), 0) << "leaf " << i;
}

TEST(Rrvm64, HasTheX8664BaselineAndNothingRrvmCannotRecordOrRun) {
  std::vector<CpuidEntry> t = rrvm64_cpuid(0);
  for (const char* f : {"fpu", "tsc",     "msr",     "pae",        "cx8",  "apic",  "cmov",
                        "pat", "clflush", "mmx",     "fxsr",       "sse",  "sse2",  "syscall",
                        "nx",  "lm",      "lahf_lm", "hypervisor", "arat", "x2apic"})
    EXPECT_TRUE(has(t, f)) << f;
  for (const char* f :
       {"tsc_deadline_timer", "rdrand", "rdseed", "rdpid", "rdtscp", "xsave", "cx16", "popcnt",
        "smap", "clwb", "movbe", "pni", "vme", "pdpe1gb", "rtm", "hle", "monitor"})
    EXPECT_FALSE(has(t, f)) << f;
  for (const CpuidEntry& e : t)
    EXPECT_FALSE(e.function >= 0x40000000 && e.function < 0x50000000)
        << "paravirtual leaf " << std::hex << e.function;
}

// Every leaf up to the maximum each range announces is in the table, once:
// the guest never gets a value KVM made up.
TEST(Rrvm64, CoversEveryLeafOfItsRanges) {
  std::vector<CpuidEntry> t = rrvm64_cpuid(0);
  for (uint32_t base : {0u, 0x80000000u}) {
    const CpuidEntry* top = find_leaf(t, base);
    ASSERT_NE(top, nullptr);
    for (uint32_t f = base; f <= top->eax; ++f) {
      int n = 0;
      for (const CpuidEntry& e : t) n += e.function == f;
      EXPECT_EQ(n, 1) << "leaf 0x" << std::hex << f;
    }
  }
  EXPECT_EQ(t.size(), 8u + 9u);
}

// AMD's CPUID.80000001H:EDX repeats these CPUID.01H:EDX bits (APM vol. 3, E.4.2).
TEST(Rrvm64, ExtendedLeafRepeatsTheBaseFlagsAsAmdDoes) {
  std::vector<CpuidEntry> t = rrvm64_cpuid(0);
  uint32_t base = find_leaf(t, 1)->edx, ext = find_leaf(t, 0x80000001)->edx;
  EXPECT_EQ(ext & 0x0183f3ff, base & 0x0183f3ff);
}

TEST(HostModel, ApicIdsAreTheMachinesNotTheHostCpus) {
  std::vector<CpuidEntry> t = host_cpuid(amd_host(), 0);
  EXPECT_EQ(find_leaf(t, 1)->ebx, 0x00020800u);
  for (const CpuidEntry& e : t) {
    if (e.function == 0xb) {
      EXPECT_EQ(e.edx, 0u) << "subleaf " << e.index;
    }
  }
  EXPECT_EQ(find_leaf(t, 0x8000001e)->eax, 0u);
  // The same table whichever host CPU answered KVM_GET_SUPPORTED_CPUID.
  HostCpu on_cpu0 = amd_host();
  find_leaf(on_cpu0.supported, 1)->ebx = 0x00020800;
  for (CpuidEntry& e : on_cpu0.supported) {
    if (e.function == 0xb) e.edx = 0;
    if (e.function == 0x8000001e) e.eax = 0;
  }
  std::vector<CpuidEntry> t0 = host_cpuid(on_cpu0, 0);
  ASSERT_EQ(t0.size(), t.size());
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(std::memcmp(&t[i], &t0[i], sizeof t[i]), 0);
}

TEST(HostModel, HidesParavirtualLeavesAndWhatRrvmCannotRecord) {
  std::vector<CpuidEntry> t = host_cpuid(amd_host(), 0);
  EXPECT_EQ(find_leaf(t, 0x40000000), nullptr);
  EXPECT_EQ(find_leaf(t, 0x40000001), nullptr);
  for (const char* f : {"tsc_deadline_timer", "rdrand", "rdseed", "rdpid", "rdtscp"})
    EXPECT_FALSE(has(t, f)) << f;
  for (const char* f :
       {"cx16", "xsave", "avx", "avx2", "avx512f", "sse2", "lm", "syscall", "x2apic"})
    EXPECT_TRUE(has(t, f)) << f << " is offered and not broken";
  EXPECT_TRUE(has(t, "hypervisor"));
}

// x2APIC is rrvm's LAPIC answering MSR exits: a KVM without them gets no
// x2APIC from --cpu host, and cannot run rrvm64 or a trace that had it.
TEST(HostModel, X2apicOnlyWhereTheLapicGetsTheMsrExits) {
  HostCpu host = amd_host();
  host.x2apic_modelled = false;
  EXPECT_FALSE(has(host_cpuid(host, 0), "x2apic"));
  try {
    model_cpuid(CpuModel::kRrvm64, host, 0);
    FAIL() << "rrvm64 accepted without MSR exits";
  } catch (const CpuUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("x2apic (KVM lacks KVM_CAP_X86_USER_SPACE_MSR"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(check_recorded_cpuid(rrvm64_cpuid(0), nullptr, host), CpuUnavailable);
  std::vector<CpuidEntry> old = rrvm64_cpuid(0);
  find_leaf(old, 1)->ecx &= ~(1u << 21);
  EXPECT_NO_THROW(check_recorded_cpuid(old, nullptr, host));
}

TEST(HostModel, HidesBrokenFeaturesAndWhatDependsOnThem) {
  HostCpu host = amd_host();
  host.probe.results = {probe("cmpxchg16b", "cx16", ProbeOutcome::kEmulationFailure),
                        probe("xsave", "xsave", ProbeOutcome::kEmulationFailure),
                        probe("clac", "smap", ProbeOutcome::kFaults),
                        probe("lahf", "lahf_lm", ProbeOutcome::kWorks)};
  std::vector<CpuidEntry> t = host_cpuid(host, 0);
  for (const char* f : {"cx16", "xsave", "avx", "avx2", "avx512f", "xsaveopt", "xsavec"})
    EXPECT_FALSE(has(t, f)) << f;
  for (const CpuidEntry& e : t) {
    if (e.function == 0xd) {
      EXPECT_EQ(e.eax | e.ebx | e.ecx | e.edx, 0u) << "XSAVE state leaf";
    }
  }
  EXPECT_TRUE(has(t, "lahf_lm"));
  EXPECT_TRUE(has(t, "sse2"));
  EXPECT_EQ(host.probe.broken_features(), (std::vector<std::string>{"cx16", "xsave", "smap"}));
}

TEST(ModelOnHost, Rrvm64RunsOnAHostThatHasItsFeatures) {
  std::vector<CpuidEntry> t = model_cpuid(CpuModel::kRrvm64, amd_host(), 0);
  EXPECT_EQ(brand_string(t), "rrvm64 virtual CPU");
}

TEST(ModelOnHost, Rrvm64IsRefusedNamingWhatTheHostLacks) {
  HostCpu host = amd_host();
  find_leaf(host.supported, 0x80000001)->ecx &= ~1u;    // no lahf_lm
  find_leaf(host.supported, 0x80000008)->eax = 0x3024;  // 36 physical address bits
  try {
    model_cpuid(CpuModel::kRrvm64, host, 0);
    FAIL() << "a host without lahf_lm was accepted";
  } catch (const CpuUnavailable& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("lahf_lm"), std::string::npos) << what;
    EXPECT_NE(what.find("39 physical address bits (host: 36)"), std::string::npos) << what;
  }
}

TEST(ModelOnHost, Rrvm64IsRefusedWhereKvmCannotExecuteAModelFeature) {
  HostCpu host = amd_host();
  host.probe.results = {probe("lahf", "lahf_lm", ProbeOutcome::kEmulationFailure)};
  try {
    model_cpuid(CpuModel::kRrvm64, host, 0);
    FAIL() << "a host that cannot execute lahf was accepted";
  } catch (const CpuUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("lahf_lm (KVM cannot execute it in ring 0 here)"),
              std::string::npos)
        << e.what();
  }
}

TEST(RecordedCpu, TableWithAFeatureTheHostLacksIsRefusedNamingIt) {
  std::vector<CpuidEntry> recorded = rrvm64_cpuid(0);
  find_leaf(recorded, 1)->ecx |= 1u << 28;  // avx
  find_leaf(recorded, 7)->ebx |= 1u << 6;   // a bit without a name
  HostCpu host = amd_host();
  find_leaf(host.supported, 1)->ecx &= ~(1u << 28);
  try {
    check_recorded_cpuid(recorded, nullptr, host);
    FAIL() << "accepted";
  } catch (const CpuUnavailable& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("avx"), std::string::npos) << what;
    EXPECT_NE(what.find("cpuid.7.0.ebx[6]"), std::string::npos) << what;
  }
}

// Nested KVM shows host flags whatever the table says: such a flag counts as
// provided, for a model and for a recorded table alike.
TEST(RecordedCpu, FlagsTheHostForcesCountAsProvided) {
  HostCpu host = amd_host();
  find_leaf(host.supported, 0x80000001)->ecx &= ~1u;  // KVM does not offer lahf_lm...
  EXPECT_THROW(model_cpuid(CpuModel::kRrvm64, host, 0), CpuUnavailable);
  host.probe.forced_features = {"lahf_lm"};  // ...but every guest sees it
  EXPECT_NO_THROW(model_cpuid(CpuModel::kRrvm64, host, 0));
  std::vector<CpuidEntry> recorded = rrvm64_cpuid(0);
  find_leaf(recorded, 1)->ecx |= 1u << 0;  // pni: neither offered nor forced
  EXPECT_EQ(unsupported_features(recorded, host), std::vector<std::string>{"pni"});
  host.probe.forced_features.push_back("pni");
  EXPECT_TRUE(unsupported_features(recorded, host).empty());
}

TEST(RecordedCpu, WarnsWhenHostsDisagreeOnTheInstructionsRrvmCompletes) {
  HostCpu host = amd_host();
  host.probe.results = {probe("int3", "", ProbeOutcome::kEmulationFailure),
                        probe("fwait", "", ProbeOutcome::kEmulationFailure)};
  std::vector<ProbeResult> recorded = {probe("int3", "", ProbeOutcome::kWorks),
                                       probe("fwait", "", ProbeOutcome::kEmulationFailure)};
  std::vector<CpuidEntry> t = rrvm64_cpuid(0);
  std::vector<std::string> w = check_recorded_cpuid(t, &recorded, host);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].rfind("int3 in ring 0 ran in KVM where this trace was recorded", 0), 0u) << w[0];
  recorded[0].outcome = ProbeOutcome::kEmulationFailure;
  EXPECT_TRUE(check_recorded_cpuid(t, &recorded, host).empty());
}

TEST(GuestView, DiffNamesAddedAndDroppedFlagsAndChangedFields) {
  std::vector<CpuidEntry> given = rrvm64_cpuid(0), seen = given;
  find_leaf(seen, 1)->ecx |= 1u << 23 | 1u << 30;  // popcnt, rdrand
  find_leaf(seen, 0x80000001)->ecx &= ~1u;         // lahf_lm
  find_leaf(seen, 7)->eax = 1;                     // max subleaf: not a flag word
  seen.push_back(entry(0xd, 0, 0xe7, 0x240, 0x980, 0, 1));
  CpuidDiff d = diff_cpuid(given, seen);
  EXPECT_EQ(d.added, (std::vector<std::string>{"popcnt", "rdrand"}));
  EXPECT_EQ(d.dropped, std::vector<std::string>{"lahf_lm"});
  EXPECT_EQ(d.changed, (std::vector<std::string>{"cpuid.7.0.eax 0x0 -> 0x1", "cpuid.d.0 added"}));
  EXPECT_TRUE(diff_cpuid(given, given).empty());
}

TEST(GuestView, ModelMayGainWhatKvmForcesButNotLoseFeatures) {
  std::vector<CpuidEntry> given = rrvm64_cpuid(0), seen = given;
  find_leaf(seen, 1)->ecx |= 1u << 30 | 1u << 26;  // rdrand, xsave shown anyway
  HostCpu host = amd_host();
  host.probe.results = {probe("xsave", "xsave", ProbeOutcome::kEmulationFailure)};
  std::vector<std::string> w = check_guest_view(given, seen, CpuOrigin::kModel, host);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[0].find("cannot hide them"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("xsave, rdrand"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("rdrand is not recorded"), std::string::npos) << w[0];
  EXPECT_EQ(w[1].rfind("the guest sees xsave, whose instructions", 0), 0u) << w[1];
  find_leaf(seen, 0x80000001)->ecx &= ~1u;
  EXPECT_THROW(check_guest_view(given, seen, CpuOrigin::kModel, host), CpuUnavailable);
}

TEST(GuestView, TraceMustSeeExactlyWhatItRecorded) {
  std::vector<CpuidEntry> given = rrvm64_cpuid(0), seen = given;
  HostCpu host = amd_host();
  EXPECT_TRUE(check_guest_view(given, seen, CpuOrigin::kTrace, host).empty());
  find_leaf(seen, 1)->ecx |= 1u << 23;  // this host shows popcnt, the recording's did not
  try {
    check_guest_view(given, seen, CpuOrigin::kTrace, host);
    FAIL() << "accepted";
  } catch (const CpuUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("it adds popcnt"), std::string::npos) << e.what();
  }
  // A trace from before rrvm recorded what its guest saw: warned, not refused.
  std::vector<std::string> w = check_guest_view(given, seen, CpuOrigin::kOldTrace, host);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("popcnt"), std::string::npos);
}

TEST(Probe, TextRoundTripsAndRejectsWhatItDidNotWrite) {
  HostProbe p;
  for (const ProbedInstruction& i : probed_instructions())
    p.results.push_back({i.instruction, i.feature, ProbeOutcome::kWorks, 0});
  p.results[1].outcome = ProbeOutcome::kEmulationFailure;
  p.results[2] = {p.results[2].instruction, p.results[2].feature, ProbeOutcome::kFaults, 6};
  p.forced_features = {"pni", "cpuid.7.0.ebx[6]"};
  std::string text = format_probe(p);
  std::optional<HostProbe> back = parse_probe(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->results, p.results);
  EXPECT_EQ(back->forced_features, p.forced_features);
  EXPECT_EQ(parse_probe("rrvm-cpu-probe 0\n"), std::nullopt);
  EXPECT_EQ(parse_probe(""), std::nullopt);
  EXPECT_EQ(parse_probe(text.substr(0, text.rfind('\n', text.size() - 2) + 1)), std::nullopt)
      << "one line short";
  std::string bad = text;
  bad.replace(bad.find("works"), 5, "maybe");
  EXPECT_EQ(parse_probe(bad), std::nullopt);
}

TEST(Probe, EveryProbedFeatureHasAName) {
  for (const ProbedInstruction& p : probed_instructions()) {
    if (*p.feature) {
      EXPECT_NE(find_cpu_feature(p.feature), nullptr) << p.instruction;
    }
    EXPECT_FALSE(p.code.empty()) << p.instruction;
  }
}

}  // namespace
}  // namespace rrvm
