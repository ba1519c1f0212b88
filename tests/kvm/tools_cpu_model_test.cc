// The guest sees the machine's CPU, never the host's (DESIGN.md, Determinism
// model, 7): recordings made on different host CPUs are identical, replay
// gives the guest the CPUID table stored in the trace rather than one built
// on the replay host, and a trace whose CPU this host cannot provide is
// refused before it runs, naming the feature.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "devices/char_backend.h"
#include "replay/session.h"
#include "replay/trace_header.h"
#include "tests/kvm/kvm_test_util.h"
#include "trace/trace_writer.h"
#include "vmm/cpu_features.h"
#include "vmm/cpu_model.h"

namespace rrvm::test {
namespace {

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string line_of(const std::string& out, const std::string& prefix) {
  auto at = out.find(prefix);
  return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
}

// The brand string in CPUID 0x80000002-4, 16 bytes per leaf.
void set_brand(std::vector<CpuidEntry>& t, const char* brand) {
  char text[48] = {};
  std::strncpy(text, brand, sizeof text - 1);
  for (uint32_t i = 0; i < 3; ++i) {
    CpuidEntry* e = find_leaf(t, 0x80000002 + i);
    ASSERT_NE(e, nullptr);
    std::memcpy(&e->eax, text + 16 * i, 4);
    std::memcpy(&e->ebx, text + 16 * i + 4, 4);
    std::memcpy(&e->ecx, text + 16 * i + 8, 4);
    std::memcpy(&e->edx, text + 16 * i + 12, 4);
  }
}

// Records the cpuid guest into `path` the way `rrvm record` does, but with
// the CPU `cpu` instead of one built from --cpu: a trace "from another host".
std::string record_with_cpu(const std::string& path, const RecordedCpu& cpu, bool keep_probe) {
  MachineConfig cfg;
  cfg.kernel_path = guest_path("cpuid");
  MachineImages images{file_bytes(cfg.kernel_path), {}};
  StringSink serial;
  Machine machine(cfg, images, serial, &cpu);
  trace::HeaderInfo header = make_trace_header(cfg, machine, images, "test");
  if (!keep_probe) {
    // As rrvm wrote traces before the probe: the table given to KVM, no probe.
    header.host_probe.clear();
    header.host_forced_cpuid.clear();
    header.cpuid.clear();
    for (const CpuidEntry& e : cpu.cpuid)
      header.cpuid.push_back({e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx});
  }
  trace::TraceWriter writer(path, header);
  write_image_blobs(writer, images);
  RecordSummary s = record_machine(machine, writer, RecordOptions{});
  trace::FooterInfo footer;
  footer.exits = s.result.exits;
  footer.final_mem_digest = s.final_memory_digest;
  footer.end_reason = to_string(s.result.reason);
  footer.guest_status = s.result.status;
  writer.close(footer);
  EXPECT_EQ(s.result.reason, StopReason::kGuestExit) << s.result.message;
  return serial.text;
}

// The APIC-ID leak: KVM_GET_SUPPORTED_CPUID carries the APIC ID of the host
// CPU the ioctl ran on. Pinned to different CPUs, two --clock virtual
// recordings must still hold the same events and print the same thing.
TEST(CpuModel, RecordingsPinnedToDifferentHostCpusAreIdentical) {
  RRVM_REQUIRE_KVM();
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs a host with two CPUs";
  std::string dir = temp_dir();
  std::string out[2], dump[2];
  for (int cpu = 0; cpu < 2; ++cpu) {
    std::string t = dir + "/pinned" + std::to_string(cpu) + ".rrt";
    CliResult rec = run_command({"taskset", "-c", std::to_string(cpu), RRVM_EXE, "record",
                                 "--clock", "virtual", "-o", t, "--kernel", guest_path("cpuid")});
    ASSERT_EQ(rec.status, 1) << rec.err;
    out[cpu] = rec.out;
    dump[cpu] = run_rrvm({"dump", t}).out;
    ASSERT_FALSE(dump[cpu].empty());
  }
  EXPECT_EQ(out[0], out[1]);
  EXPECT_EQ(dump[0], dump[1]) << "the two recordings' events (and digests) differ";
  // Leaf 1 EBX: CLFLUSH size 8 qwords, initial APIC ID 0 (the platform's BSP).
  EXPECT_EQ(line_of(out[0], "cpuid: leaf 1:").rfind("cpuid: leaf 1: 0x60fb1 0x800 0x", 0), 0u)
      << out[0];
  EXPECT_NE(out[0].find("cpuid: vendor AuthenticAMD, brand \"rrvm64 virtual CPU\"\n"),
            std::string::npos)
      << out[0];
  EXPECT_NE(out[0].find("cpuid: leaf 0x40000000: 0x0 0x0 0x0 0x0\n"), std::string::npos)
      << "KVM's paravirtual leaves must not reach the guest\n"
      << out[0];
}

// A trace recorded with a CPU this host would not build (another brand
// string) replays with that CPU: the guest prints the recorded brand.
TEST(CpuModel, ReplayGivesTheGuestTheTableStoredInTheTrace) {
  RRVM_REQUIRE_KVM();
  std::string t = temp_dir() + "/other.rrt";
  RecordedCpu cpu{rrvm64_cpuid(0), std::nullopt};
  set_brand(cpu.cpuid, "a CPU from another host");
  std::string recorded = record_with_cpu(t, cpu, /*keep_probe=*/true);
  ASSERT_NE(recorded.find("brand \"a CPU from another host\""), std::string::npos) << recorded;

  CliResult here = run_rrvm({"run", "--kernel", guest_path("cpuid")});
  EXPECT_NE(here.out.find("brand \"rrvm64 virtual CPU\""), std::string::npos) << here.out;
  CliResult r = run_rrvm({"replay", t});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, recorded);
  EXPECT_NE(r.err.find("replay matched the recording"), std::string::npos) << r.err;
}

// Traces from before rrvm stored what its guest saw carry the table rrvm
// gave KVM (then: KVM's own, host APIC ID and all): they replay with it.
TEST(CpuModel, OldTraceReplaysWithItsOwnTable) {
  RRVM_REQUIRE_KVM();
  std::string t = temp_dir() + "/old.rrt";
  Kvm kvm;
  RecordedCpu cpu{kvm.supported_cpuid(), std::nullopt};
  uint32_t& ebx = find_leaf(cpu.cpuid, 1)->ebx;
  ebx = (ebx & 0x00ffffff) | 1u << 24;  // recorded on host CPU 1
  std::string recorded = record_with_cpu(t, cpu, /*keep_probe=*/false);
  char want[32];
  std::snprintf(want, sizeof want, " 0x%x ", ebx);
  ASSERT_NE(line_of(recorded, "cpuid: leaf 1:").find(want), std::string::npos) << recorded;
  CliResult r = run_rrvm({"replay", t});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, recorded);
  CliResult info = run_rrvm({"info", t});
  EXPECT_NE(info.out.find("host probe: not recorded"), std::string::npos) << info.out;
}

// A named flag this host's KVM neither offers nor shows guests anyway.
std::string flag_this_host_lacks(const CpuFeature** out) {
  Kvm kvm;
  HostCpu host{kvm.supported_cpuid(), probe_host(kvm, kvm.supported_cpuid()),
               kvm.check_extension(KVM_CAP_X86_USER_SPACE_MSR) > 0 &&
                   kvm.check_extension(KVM_CAP_X86_MSR_FILTER) > 0};
  const std::vector<std::string> before = unsupported_features(rrvm64_cpuid(0), host);
  for (const CpuFeature& f : cpu_features()) {
    std::vector<CpuidEntry> t = rrvm64_cpuid(0);
    CpuidEntry* e = find_leaf(t, f.function, f.index);
    if (!e || std::string_view(f.name) == "osxsave" || std::string_view(f.name) == "ospke")
      continue;
    reg_of(*e, f.reg) |= 1u << f.bit;
    if (unsupported_features(t, host).size() > before.size()) {
      *out = &f;
      return f.name;
    }
  }
  return "";
}

TEST(CpuModel, TraceNeedingAFeatureTheHostLacksIsRefusedNamingIt) {
  RRVM_REQUIRE_KVM();
  const CpuFeature* f = nullptr;
  std::string name = flag_this_host_lacks(&f);
  if (name.empty()) GTEST_SKIP() << "this host offers every flag rrvm64's leaves can hold";
  std::vector<CpuidEntry> table = rrvm64_cpuid(0);
  reg_of(*find_leaf(table, f->function, f->index), f->reg) |= 1u << f->bit;
  trace::HeaderInfo h;
  h.config = MachineConfig().to_pairs();
  for (const CpuidEntry& e : table)
    h.cpuid.push_back({e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx});
  h.host_probe = {{"int3", "", trace::ProbeOutcome::kWorks, 0}};
  std::vector<uint8_t> kernel = file_bytes(guest_path("hello"));
  h.images = {{"kernel", "hello.elf", trace::content_hash(kernel), kernel.size()}};
  std::string t = temp_dir() + "/lacks.rrt";
  {
    trace::TraceWriter w(t, h);
    w.add_blob("kernel", kernel);
    w.close({});
  }
  CliResult r = run_rrvm({"replay", t});
  EXPECT_EQ(r.status, 69) << r.err;
  EXPECT_NE(r.err.find("cannot provide: " + name), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "") << "refused before the guest ran";
}

// The probe is in every new trace, and `rrvm info` shows it.
TEST(CpuModel, TraceHeaderHoldsTheHostProbe) {
  RRVM_REQUIRE_KVM();
  std::string t = temp_dir() + "/probe.rrt";
  ASSERT_EQ(run_rrvm({"record", "-o", t, "--kernel", guest_path("hello")}).status, 1);
  CliResult info = run_rrvm({"info", t});
  EXPECT_NE(info.out.find("host probe: " + std::to_string(probed_instructions().size()) +
                          " ring-0 instructions tried"),
            std::string::npos)
      << info.out;
  CliResult json = run_rrvm({"info", "--json", t});
  EXPECT_TRUE(parses_as_json(json.out));
  EXPECT_NE(json.out.find("{\"instruction\": \"cmpxchg16b\", \"feature\": \"cx16\", \"outcome\": "),
            std::string::npos)
      << json.out;
}

}  // namespace
}  // namespace rrvm::test
