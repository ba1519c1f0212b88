// rrvm record / replay end to end on the timerhash guests: nondeterminism
// is real, every recording replays to its own output, many times, verified.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

// Starts `rrvm record` of the spin guest (which never exits) in the background.
pid_t spawn_spin_recording(const std::string& path) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(RRVM_EXE, RRVM_EXE, "record", "-o", path.c_str(), "--kernel", guest_path("spin").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Two host-clock recordings of a timer-driven guest differ (the
// nondeterminism is real); each replays 20 times to its own output.
void recordings_differ_and_replay(const std::string& guest, const std::string& tag) {
  std::string dir = temp_dir();
  CliResult a = run_rrvm({"record", "-o", dir + "/a.rrt", "--kernel", guest_path(guest)});
  CliResult b = run_rrvm({"record", "-o", dir + "/b.rrt", "--kernel", guest_path(guest)});
  ASSERT_EQ(a.status, 1) << a.err;
  ASSERT_EQ(b.status, 1) << b.err;
  auto line = [&](const std::string& out) {
    auto at = out.find(tag + ":");
    return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
  };
  ASSERT_FALSE(line(a.out).empty()) << a.out;
  EXPECT_NE(line(a.out), line(b.out)) << "two recordings should see different timing";
  EXPECT_NE(a.err.find("landmarks"), std::string::npos) << a.err;

  for (int i = 0; i < 20; ++i) {
    CliResult r = run_rrvm({"replay", dir + "/a.rrt"});
    ASSERT_EQ(r.status, 0) << "replay " << i << ": " << r.err;
    ASSERT_EQ(r.out, a.out) << "replay " << i << " printed something else";
    ASSERT_NE(r.err.find("replay matched the recording"), std::string::npos) << r.err;
  }
  CliResult rb = run_rrvm({"replay", dir + "/b.rrt"});
  EXPECT_EQ(rb.status, 0) << rb.err;
  EXPECT_EQ(rb.out, b.out);
}

TEST(RecordReplay, TimerhashRecordingsDifferAndEachReplaysExactly) {
  RRVM_REQUIRE_KVM();
  recordings_differ_and_replay("timerhash", "timerhash");
}

// The same through the IOAPIC-free path of the platform: the tick comes
// from the userspace LAPIC's timer, its current-count reads are hashed.
TEST(RecordReplay, LapicTimerhashRecordingsDifferAndEachReplaysExactly) {
  RRVM_REQUIRE_KVM();
  recordings_differ_and_replay("timerhash_lapic", "timerhash_lapic");
}

// Dump lines, without the progress marks (placed by the host's
// once-a-second flush, like the header's creation time).
std::string dump_without_progress(const std::string& path) {
  CliResult dump = run_rrvm({"dump", path});
  EXPECT_EQ(dump.status, 0) << dump.err;
  std::string out;
  size_t at = 0;
  while (at < dump.out.size()) {
    size_t end = dump.out.find('\n', at);
    std::string line = dump.out.substr(at, end - at + 1);
    if (line.find(" progress") == std::string::npos) out += line;
    at = end == std::string::npos ? dump.out.size() : end + 1;
  }
  return out;
}

// --clock virtual: a guest that waits through HLT and port I/O sees time
// derived from its own execution, so two recordings hold the same events,
// with read values left to the models (100 halts) or all stored.
TEST(RecordReplay, VirtualClockRecordingsOfAnIdleGuestAreIdentical) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir();
  for (bool logged : {false, true}) {
    std::string dumps[2];
    for (int i = 0; i < 2; ++i) {
      std::string path = dir + "/v" + std::to_string(i) + ".rrt";
      std::vector<std::string> args = {"record", "--clock",  "virtual",        "-o",
                                       path,     "--kernel", guest_path("pit")};
      if (logged) args.push_back("--log-values");
      CliResult rec = run_rrvm(args);
      ASSERT_EQ(rec.status, 1) << rec.err;
      dumps[i] = dump_without_progress(path);
      CliResult rep = run_rrvm({"replay", path});
      EXPECT_EQ(rep.status, 0) << rep.err;
      EXPECT_EQ(rep.out, rec.out);
    }
    EXPECT_GT(dumps[0].size(), logged ? 10000u : 2000u);
    EXPECT_EQ(dumps[0], dumps[1]) << "virtual-clock recordings differ";
  }
  CliResult info = run_rrvm({"info", dir + "/v0.rrt"});
  EXPECT_NE(info.out.find("clock: virtual"), std::string::npos) << info.out;
}

TEST(RecordReplay, JsonSummaryCountsLandmarks) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir();
  ASSERT_EQ(run_rrvm({"record", "-o", dir + "/t.rrt", "--kernel", guest_path("timerhash")}).status,
            1);
  CliResult r = run_rrvm({"replay", dir + "/t.rrt", "--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"matched\": true"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("timerhash:"), std::string::npos) << "--json keeps serial output off stdout";
  CliResult info = run_rrvm({"info", dir + "/t.rrt", "--json"});
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.out.find("\"landmark\": 50"), std::string::npos) << info.out;
  EXPECT_EQ(run_rrvm({"verify", dir + "/t.rrt"}).status, 0);
}

// Landmarks in ring 3 record fine; replaying them needs debug exits from
// ring 3, which nested (PVM) hosts do not give. Either it replays exactly, or
// rrvm says exactly that — never a generic divergence.
TEST(RecordReplay, Ring3LandmarksReplayOrAreReportedAsUnsupported) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir();
  CliResult rec =
      run_rrvm({"record", "-o", dir + "/r3.rrt", "--kernel", guest_path("timerhash_ring3")});
  ASSERT_EQ(rec.status, 1) << rec.err;
  CliResult r = run_rrvm({"replay", dir + "/r3.rrt"});
  if (r.status == 0) {
    EXPECT_EQ(r.out, rec.out);
  } else {
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("ring-3 code, and this host's KVM reports no debug exits from ring 3"),
              std::string::npos)
        << r.err;
  }
}

TEST(RecordReplay, KilledRecordingReplaysItsPrefix) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir(), path = dir + "/killed.rrt";
  pid_t pid = spawn_spin_recording(path);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  CliResult info = run_rrvm({"info", path});
  EXPECT_EQ(info.status, 0) << info.err;
  EXPECT_NE(info.out.find("without a footer"), std::string::npos) << info.out;
  CliResult r = run_rrvm({"replay", path});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("spin: spinning forever"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("incomplete"), std::string::npos) << r.err;
  EXPECT_NE(run_rrvm({"verify", path}).status, 0) << "an incomplete trace does not verify";
}

TEST(RecordReplay, SigtermEndsARecordingWithACompleteTrace) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir(), path = dir + "/term.rrt";
  pid_t pid = spawn_spin_recording(path);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st)) << "rrvm should exit by itself on SIGTERM";
  EXPECT_EQ(run_rrvm({"verify", path}).status, 0) << "the trace is complete";
  CliResult info = run_rrvm({"info", path});
  EXPECT_NE(info.out.find("status: complete"), std::string::npos) << info.out;
}

TEST(RecordReplay, ClosedStdoutPipeDoesNotKillARecording) {
  RRVM_REQUIRE_KVM();
  std::string dir = temp_dir(), path = dir + "/pipe.rrt";
  // `head -c 1` closes the pipe after the first byte of serial output.
  CliResult r = run_command({"sh", "-c",
                             std::string(RRVM_EXE) + " record -o " + path + " --kernel " +
                                 guest_path("timerhash") + " | head -c 1 >/dev/null"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(run_rrvm({"verify", path}).status, 0) << "the recording ran to its end";
  EXPECT_EQ(run_rrvm({"replay", path, "--serial", "none"}).status, 0);
}

TEST(RecordReplay, BadTracesGetClearErrors) {
  std::string dir = temp_dir();
  CliResult missing = run_rrvm({"replay", dir + "/nope.rrt"});
  EXPECT_EQ(missing.status, 66);
  EXPECT_NE(missing.err.find("rrvm: error: cannot read"), std::string::npos) << missing.err;
  std::string junk = dir + "/junk.rrt";
  FILE* f = fopen(junk.c_str(), "wb");
  fputs("this is not a trace", f);
  fclose(f);
  for (const char* cmd : {"replay", "info", "dump", "verify"}) {
    CliResult r = run_rrvm({cmd, junk});
    EXPECT_EQ(r.status, 65) << cmd << ": " << r.err;
    EXPECT_NE(r.err.find("at byte"), std::string::npos) << cmd << ": " << r.err;
  }
  EXPECT_EQ(run_rrvm({"replay", junk, "--kernel", "x"}).status, 64)
      << "machine options belong to the trace, not to replay";
  EXPECT_EQ(run_rrvm({"record", "--kernel", guest_path("hello")}).status, 64) << "-o is required";
}

}  // namespace
}  // namespace rrvm::test
