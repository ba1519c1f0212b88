// Instructions this host's KVM cannot emulate in ring 0 and rrvm completes
// (vmm/instruction_completion.h): the completions guest runs int3 (its #BP
// handler counts), fwait, stac, clac, popcnt, ldmxcsr and integer SSE in ring 0 and checks the
// CPU's results; run, record and replay all print the same, byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "tests/kvm/kvm_test_util.h"
#include "trace/trace_reader.h"
#include "trace/trace_writer.h"
#include "vmm/cpu_probe.h"

namespace rrvm::test {
namespace {

bool probe_fails(const char* insn) {
  Kvm kvm;
  HostProbe p = probe_host(kvm, kvm.supported_cpuid());
  const ProbeResult* r = p.find(insn);
  return r && r->outcome == ProbeOutcome::kEmulationFailure;
}

// The completions the guest needs here, by kind: none on a host whose KVM
// runs these instructions itself; its two popcnts and two ldmxcsrs only
// where KVM fails those too.
std::vector<std::pair<std::string, int>> expected_kinds() {
  if (!probe_fails("int3")) return {};
  std::vector<std::pair<std::string, int>> kinds = {
      {"int3", 3}, {"fwait", 1}, {"clac", 1}, {"stac", 1}};
  if (probe_fails("popcnt")) kinds.push_back({"popcnt", 2});
  if (probe_fails("ldmxcsr")) kinds.push_back({"ldmxcsr", 2});
  // The guest's SSE block: 13 instructions KVM's emulator fails where it
  // fails paddq, plus 3 of its movdqa/movdqu that it would run itself but
  // that come inside a run rrvm completes in one exit (InstructionCompleter).
  if (probe_fails("paddq")) kinds.push_back({"sse", 16});
  kinds.push_back({"int", 2});  // int n fails where int3 does: the emulator has neither
  kinds.push_back({"x87", 3});  // fnclex, emms, fildl: likewise
  return kinds;
}

int expected_completions() {
  int n = 0;
  for (const auto& [name, count] : expected_kinds()) n += count;
  return n;
}

// Exits that complete something: one per instruction, but the SSE block is
// straight-line code, one run completed in one exit.
int expected_completion_exits() {
  int n = 0;
  for (const auto& [name, count] : expected_kinds()) n += name == "sse" ? 1 : count;
  return n;
}

std::string expected_note() {
  std::string kinds;
  for (const auto& [name, count] : expected_kinds())
    kinds += (kinds.empty() ? "" : ", ") + name + " " + std::to_string(count);
  if (kinds.empty()) return "";
  return "rrvm: completed " + std::to_string(expected_completions()) +
         " instructions KVM could not emulate (" + kinds + ")";
}

TEST(Completion, GuestSeesWhatTheCpuDoesAndReplayIsExact) {
  RRVM_REQUIRE_KVM();
  std::string note = expected_note();
  CliResult run = run_rrvm({"run", "--kernel", guest_path("completions")});
  ASSERT_EQ(run.status, 1) << run.out << run.err;
  EXPECT_NE(run.out.find("PASS: int3 raised #BP three times, returning after the int3\n"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("PASS: int n raised vectors 4 and 0x3e, returning after it\n"),
            std::string::npos);
  EXPECT_NE(run.out.find("PASS: fwait with no x87 exception pending goes on\n"), std::string::npos);
  EXPECT_NE(run.out.find("PASS: popcnt counts bits, ZF set only for a zero source\n"),
            std::string::npos);
  EXPECT_NE(run.out.find("PASS: ldmxcsr loads MXCSR\n"), std::string::npos);
  EXPECT_NE(run.out.find("PASS: fnclex; emms; fildl loads ST0 as the CPU does\n"),
            std::string::npos);
  EXPECT_NE(run.out.find("PASS: SSE integer instructions compute what scalar code does\n"),
            std::string::npos);
  EXPECT_NE(run.out.find("SUMMARY: 8 tests, 0 failures\n"), std::string::npos) << run.out;
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
        json.out.find("\"completions\": {\"int3\": 3, \"fwait\": 1, \"clac\": 1, \"stac\": 1"),
        std::string::npos)
        << json.out;
  }
}

// A copy of trace `from` whose events pass through `edit` (as if a recorder
// had completed something else).
void copy_trace(const std::string& from, const std::string& to,
                const std::function<void(trace::Event&)>& edit) {
  trace::TraceReader r(from);
  trace::TraceWriter w(to, r.header());
  for (const trace::ImageRef& img : r.header().images) w.add_blob(img.role, r.blob(img.hash));
  trace::ReadEvent e;
  while (r.next(e)) {
    edit(e.event);
    w.put(e);
  }
  w.close(r.footer() ? *r.footer() : trace::FooterInfo{});
}

// Completions are recorded, and replay checks that it completes the same
// instruction at the same exit: a trace that says otherwise diverges.
TEST(Completion, RecordedAndCheckedByReplay) {
  RRVM_REQUIRE_KVM();
  if (expected_note().empty()) GTEST_SKIP() << "this host's KVM needs no completions";
  std::string dir = temp_dir(), t = dir + "/c.rrt", bad = dir + "/bad.rrt";
  ASSERT_EQ(run_rrvm({"record", "-o", t, "--kernel", guest_path("completions")}).status, 1);
  CliResult dump = run_rrvm({"dump", "--kind", "completion", t});
  EXPECT_EQ(std::count(dump.out.begin(), dump.out.end(), '\n'), expected_completion_exits())
      << dump.out;
  EXPECT_NE(dump.out.find(" completion insn=0x300 rip=0x"), std::string::npos) << dump.out;
  EXPECT_NE(dump.out.find(" completion insn=0xff01 rip=0x"), std::string::npos) << dump.out;
  // The recording's first int3 now claims to be an fwait.
  bool changed = false;
  copy_trace(t, bad, [&](trace::Event& e) {
    if (e.kind == trace::EventKind::kCompletion && !changed) {
      e.a = 1 | uint64_t{0xff} << 8;
      changed = true;
    }
  });
  CliResult r = run_rrvm({"replay", bad});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("replay completed int3 for KVM (#"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" completion insn=0x300 rip=0x"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the recording has #"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" completion insn=0xff01 rip=0x"), std::string::npos) << r.err;
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
