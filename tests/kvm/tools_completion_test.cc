// Instructions this host's KVM cannot emulate in ring 0 and rrvm completes
// (vmm/instruction_completion.h): the completions guest runs int3 (its #BP
// handler counts), fwait, stac and clac in ring 0 and checks the CPU's
// results; run, record and replay all print the same, byte for byte.
#include <gtest/gtest.h>

#include "tests/kvm/kvm_test_util.h"
#include "vmm/cpu_probe.h"

namespace rrvm::test {
namespace {

// How many completions the guest needs here: none on a host whose KVM
// runs these instructions itself.
std::string expected_note() {
  Kvm kvm;
  HostProbe p = probe_host(kvm, kvm.supported_cpuid());
  const ProbeResult* int3 = p.find("int3");
  if (!int3 || int3->outcome != ProbeOutcome::kEmulationFailure) return "";
  return "rrvm: completed 6 instructions KVM could not emulate (int3 3, fwait 1, clac 1, stac 1)";
}

TEST(Completion, GuestSeesWhatTheCpuDoesAndReplayIsExact) {
  RRVM_REQUIRE_KVM();
  std::string note = expected_note();
  CliResult run = run_rrvm({"run", "--kernel", guest_path("completions")});
  ASSERT_EQ(run.status, 1) << run.out << run.err;
  EXPECT_NE(run.out.find("PASS: int3 raised #BP three times, returning after the int3\n"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("PASS: fwait with no x87 exception pending goes on\n"), std::string::npos);
  EXPECT_NE(run.out.find("SUMMARY: 3 tests, 0 failures\n"), std::string::npos) << run.out;
  if (!note.empty()) {
    EXPECT_NE(run.err.find(note), std::string::npos) << run.err;
  }

  std::string t = temp_dir() + "/completions.rrt";
  CliResult rec = run_rrvm({"record", "-o", t, "--kernel", guest_path("completions")});
  ASSERT_EQ(rec.status, 1) << rec.err;
  EXPECT_EQ(rec.out, run.out);
  for (int i = 0; i < 3; ++i) {
    CliResult rep = run_rrvm({"replay", t});
    ASSERT_EQ(rep.status, 0) << rep.err;
    EXPECT_EQ(rep.out, rec.out) << "replay " << i;
    if (!note.empty()) {
      EXPECT_NE(rep.err.find(note), std::string::npos) << rep.err;
    }
  }
  CliResult json = run_rrvm({"replay", "--json", t});
  EXPECT_TRUE(parses_as_json(json.out));
  if (!note.empty()) {
    EXPECT_NE(
        json.out.find("\"completions\": {\"int3\": 3, \"fwait\": 1, \"clac\": 1, \"stac\": 1}"),
        std::string::npos)
        << json.out;
  }
}

// An instruction rrvm does not complete stays a crash report naming its
// bytes: the fault guest's neighbour here is cmpxchg16b, which this host's
// KVM cannot emulate in ring 0 either.
TEST(Completion, OtherEmulationFailuresAreCrashReportsNamingTheBytes) {
  RRVM_REQUIRE_KVM();
  Kvm kvm;
  HostProbe p = probe_host(kvm, kvm.supported_cpuid());
  const ProbeResult* cx16 = p.find("cmpxchg16b");
  if (!cx16 || cx16->outcome != ProbeOutcome::kEmulationFailure)
    GTEST_SKIP() << "this host's KVM emulates cmpxchg16b";
  CliResult r = run_rrvm({"run", "--kernel", guest_path("completions"), "--cmdline", "cx16"});
  EXPECT_EQ(r.status, 70) << r.err;
  EXPECT_NE(r.err.find("KVM could not emulate a guest instruction (emulation failure; not an "
                       "instruction rrvm completes"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(": f0 48 0f c7 0f"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rrvm::test
