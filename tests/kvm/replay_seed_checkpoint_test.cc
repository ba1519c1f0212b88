// Checkpoint restore on the seed traces, device by device (issue 13's
// tests): each seed scenario (tests/kvm/tools_seedboot_test.cc: kvm84's
// MP table, the fixed table with the NIC's timer off and on) is recorded
// and replayed with checkpoints; a checkpoint from the middle of the replay
// is restored and replayed on, and at every later checkpoint each device's
// State is compared with the straight replay's on its own — one test per
// device model on the seed board, so a failure names the model — and the
// whole machine (RAM, the vCPU, the output, the end and the recording's
// final digests) in one more.
//
// One recording and replay per scenario serves all of its tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "replay/replay_session.h"
#include "replay/trace_header.h"
#include "tests/kvm/kvm_test_util.h"
#include "trace/trace_reader.h"
#include "vmm/pc_board.h"
#include "vmm/vcpu_state.h"

namespace rrvm::test {
namespace {

constexpr uint64_t kEvery = 50;  // exits between checkpoints

struct Scenario {
  std::string name;
  std::vector<std::string> knobs;
  int status;  // the recording's exit status (tools_seedboot_test.cc)
};

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = {{"kvm84", {"--mptable", "kvm84"}, 5},
                                            {"notimer", {"--rtl8139-timer", "off"}, 7},
                                            {"timer", {"--rtl8139-timer", "on"}, 1}};
  return all;
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> out;
  for (const Scenario& s : scenarios()) out.push_back(s.name);
  return out;
}

const Scenario& scenario(const std::string& name) {
  for (const Scenario& s : scenarios())
    if (s.name == name) return s;
  throw std::invalid_argument("no seed scenario " + name);
}

// The devices with a State of their own on the seed board (the NIC on),
// from the board's own list (PcBoard::register_states), so a device added
// to the board gets its test here.
std::vector<std::string> seed_board_devices() {
  MachineConfig cfg;
  cfg.net = {NetKind::kUser, "user"};
  GuestRam ram(cfg.mem_size);
  ManualClock clock;
  StringSink serial;
  PcBoard board(cfg, ram, clock, serial);
  std::vector<std::string> names = board.states().names(), out;
  DeviceStates::Snapshot blobs = board.states().save();
  for (size_t i = 0; i < names.size(); ++i)
    if (!blobs[i].empty()) out.push_back(names[i]);
  return out;
}

// The machine at a checkpoint exit, settled (the exit's instruction done).
struct Point {
  DeviceStates::Snapshot devices;
  uint64_t ram = 0;
  VcpuState vcpu;
};

template <class T>
bool same_bytes(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// The vCPU parts that differ, the FPU image left out (`fpu` says whether
// it differs: see the note in compare()).
std::string differing_vcpu(const VcpuState& a, const VcpuState& b, bool* fpu) {
  std::string out;
  auto note = [&](bool differ, const char* what) {
    if (differ) out += (out.empty() ? "" : ", ") + std::string(what);
  };
  note(!same_bytes(a.regs, b.regs), "registers");
  note(!same_bytes(a.sregs, b.sregs), "system registers");
  note(!same_bytes(a.xcrs, b.xcrs), "XCRs");
  bool msrs = a.msrs.size() != b.msrs.size();
  for (size_t i = 0; !msrs && i < a.msrs.size(); ++i)
    msrs = a.msrs[i].index != b.msrs[i].index || a.msrs[i].data != b.msrs[i].data;
  note(msrs, "MSRs");
  note(!same_bytes(a.events, b.events), "pending events");
  note(!same_bytes(a.debugregs, b.debugregs), "debug registers");
  note(!same_bytes(a.run, b.run), "run-area fields");
  *fpu = a.fpu != b.fpu;
  return out;
}

std::string fpu_bytes_differing(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  std::string out;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i] == b[i]) continue;
    char t[32];
    std::snprintf(t, sizeof t, " [%zu] %02x/%02x", i, a[i], b[i]);
    out += t;
  }
  return out;
}

// How a restored replay ended.
struct Ending {
  std::string from;  // where the machine was when the checkpoint was restored
  RunResult result;
  uint64_t mem = 0, reg = 0;  // final digests
};

// Everything the tests of one scenario assert on.
struct SeedRun {
  std::string setup_error;  // set when there is nothing to compare
  CliResult record;
  std::vector<std::string> devices;   // the session's board, in DeviceStates order
  std::vector<std::string> stateful;  // those with a State of their own
  uint64_t restored_from = 0;         // the checkpoint restored (mid-replay)
  std::vector<uint64_t> compared;     // checkpoint exits compared after it
  std::map<std::string, std::vector<std::string>> device_mismatches;
  // Devices whose State the restores changed: for the others these traces
  // cannot tell a restore from none.
  std::set<std::string> restore_changed;
  std::vector<std::string> machine_mismatches;
  std::vector<std::string> fpu_notes;
  RunResult straight_end;
  std::vector<Ending> restored_ends;
  uint64_t recorded_mem = 0, straight_mem = 0;
  uint64_t recorded_reg = 0, straight_reg = 0;
  std::string output;  // what the replays printed, once
};

class SeedReplay {
 public:
  SeedReplay(const std::string& path)
      : reader_(path),
        cfg_(config_from_trace(reader_.header())),
        cpu_(cpu_from_trace(reader_.header())),
        session_(reader_, cfg_, images_from_trace(reader_), serial_, replay_options_for(reader_),
                 CheckpointPolicy{kEvery, 512ull << 20}, &cpu_),
        states_(session_.machine().board().states()),
        msrs_(checkpoint_msrs(session_.vcpu())) {}

  ReplaySession& session() { return session_; }
  const DeviceStates& states() const { return states_; }
  const trace::TraceReader& reader() const { return reader_; }
  std::string output() const { return serial_.text; }

  Point here() {
    session_.settle();
    return {states_.save(), session_.digest_now().ram, save_vcpu_state(session_.vcpu(), msrs_)};
  }

 private:
  trace::TraceReader reader_;
  MachineConfig cfg_;
  RecordedCpu cpu_;
  StringSink serial_;
  ReplaySession session_;
  const DeviceStates& states_;
  std::vector<uint32_t> msrs_;
};

// The restored replay's state at exit `at` against the straight replay's.
void compare(SeedRun& run, const DeviceStates& states, const std::string& where, const Point& now,
             const Point& want) {
  for (const std::string& name : states.differing(now.devices, want.devices))
    run.device_mismatches[name].push_back(where);
  if (now.ram != want.ram) run.machine_mismatches.push_back("RAM differs " + where);
  bool fpu = false;
  std::string vcpu = differing_vcpu(now.vcpu, want.vcpu, &fpu);
  if (!vcpu.empty()) run.machine_mismatches.push_back("vCPU " + vcpu + " differ " + where);
  // Not asserted: about one timerhash run in five this image alone once
  // differed at a re-reached exit (tests/kvm/replay_session_test.cc); the
  // bytes are noted so that a recurrence says which.
  if (fpu)
    run.fpu_notes.push_back("FPU image " + where + ":" +
                            fpu_bytes_differing(want.vcpu.fpu, now.vcpu.fpu));
}

// Restores the mid-replay checkpoint with the machine where it stands
// (`from` says where that is), replays on comparing at every later
// checkpoint, and to the end.
void restore_and_compare(SeedRun& run, SeedReplay& r, const std::map<uint64_t, Point>& straight,
                         const std::vector<uint64_t>& cps, const std::string& from) {
  ReplaySession& s = r.session();
  DeviceStates::Snapshot before = r.states().save();
  std::string restored =
      " after restoring exit " + std::to_string(run.restored_from) + " from " + from;
  if (std::optional<RunResult> stop = s.seek({run.restored_from, 0})) {
    run.machine_mismatches.push_back("restoring failed" + restored + ": " + stop->message);
    return;
  }
  const Point& want = straight.at(run.restored_from);
  for (const std::string& name : r.states().differing(before, want.devices))
    run.restore_changed.insert(name);
  compare(run, r.states(), "at exit " + std::to_string(run.restored_from) + restored, r.here(),
          want);
  std::optional<RunResult> end;
  for (uint64_t at : cps) {
    if (at <= run.restored_from) continue;
    while (!end && s.replayer().ordinal() < at) end = s.next_exit();
    if (end) {
      run.machine_mismatches.push_back("the replay ended before exit " + std::to_string(at) +
                                       restored + ": " + end->message);
      break;
    }
    if (from == "the end of the replay") run.compared.push_back(at);
    compare(run, r.states(), "at exit " + std::to_string(at) + restored, r.here(), straight.at(at));
  }
  RunResult result = end ? *end : s.run();
  ReplaySummary sum = s.summary(result);
  run.restored_ends.push_back({from, result, sum.final_memory_digest, sum.final_register_digest});
}

void replay_and_restore(SeedRun& run, SeedReplay& r) {
  ReplaySession& s = r.session();
  std::map<uint64_t, Point> straight;
  straight[0] = r.here();
  std::optional<RunResult> end;
  while (!(end = s.next_exit())) {
    if (s.replayer().ordinal() % kEvery == 0) straight[s.replayer().ordinal()] = r.here();
  }
  run.straight_end = *end;
  ReplaySummary sum = s.summary(*end);
  run.straight_mem = sum.final_memory_digest;
  run.straight_reg = sum.final_register_digest;
  std::vector<uint64_t> cps = s.checkpoint_exits();
  if (cps.size() < 4) {
    run.setup_error = "only " + std::to_string(cps.size()) + " checkpoints";
    return;
  }
  run.restored_from = cps[cps.size() / 2];
  restore_and_compare(run, r, straight, cps, "the end of the replay");
  // Again from the start, where devices stand elsewhere than at the end
  // (a restore that left a device alone shows from either, unless its
  // State is the same in all three places).
  if (std::optional<RunResult> stop = s.seek({0, 0})) {
    run.machine_mismatches.push_back("restoring the start failed: " + stop->message);
    return;
  }
  restore_and_compare(run, r, straight, cps, "the start");
}

SeedRun run_scenario(const Scenario& sc) {
  SeedRun run;
  std::string path = temp_dir() + "/" + sc.name + ".rrt";
  std::vector<std::string> args = {
      "record",     "-o",  path,        "--kernel", guest_path("seedboot"), "--net", "user",
      "--acpi-pic", "off", "--timeout", "60"};
  args.insert(args.end(), sc.knobs.begin(), sc.knobs.end());
  run.record = run_rrvm(args);
  try {
    SeedReplay r(path);
    run.devices = r.states().names();
    DeviceStates::Snapshot blobs = r.states().save();
    for (size_t i = 0; i < run.devices.size(); ++i)
      if (!blobs[i].empty()) run.stateful.push_back(run.devices[i]);
    if (!r.reader().footer()) {
      run.setup_error = "the recording has no footer";
      return run;
    }
    run.recorded_mem = r.reader().footer()->final_mem_digest;
    run.recorded_reg = r.reader().footer()->final_reg_digest;
    replay_and_restore(run, r);
    run.output = r.output();
  } catch (const std::exception& e) {
    run.setup_error = e.what();
  }
  return run;
}

// Recorded and replayed once per scenario, on first use.
const SeedRun& seed_run(const std::string& name) {
  static std::map<std::string, SeedRun> runs;
  auto it = runs.find(name);
  if (it == runs.end()) it = runs.emplace(name, run_scenario(scenario(name))).first;
  return it->second;
}

std::string lines(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += "\n  " + s;
  return out;
}

class SeedDeviceRestore : public testing::TestWithParam<std::tuple<std::string, std::string>> {};

TEST_P(SeedDeviceRestore, StateEqualsTheStraightReplaysAtEveryLaterCheckpoint) {
  RRVM_REQUIRE_KVM();
  const auto& [name, device] = GetParam();
  const SeedRun& run = seed_run(name);
  ASSERT_EQ(run.setup_error, "") << run.record.err;
  ASSERT_NE(std::find(run.devices.begin(), run.devices.end(), device), run.devices.end())
      << device << " is not on this seed board:" << lines(run.devices);
  auto it = run.device_mismatches.find(device);
  EXPECT_TRUE(it == run.device_mismatches.end())
      << device << "'s State differs from the straight replay's:"
      << lines(it == run.device_mismatches.end() ? std::vector<std::string>{} : it->second);
  if (!run.restore_changed.count(device))
    std::cout << "note: " << device << "'s State is the same at the start, at exit "
              << run.restored_from << " and at the end of " << name
              << ": this trace cannot tell its restore from none\n";
}

INSTANTIATE_TEST_SUITE_P(Seed, SeedDeviceRestore,
                         testing::Combine(testing::ValuesIn(scenario_names()),
                                          testing::ValuesIn(seed_board_devices())),
                         [](const testing::TestParamInfo<std::tuple<std::string, std::string>>& p) {
                           std::string n = std::get<0>(p.param) + "_" + std::get<1>(p.param);
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

class SeedMachineRestore : public testing::TestWithParam<std::string> {};

TEST_P(SeedMachineRestore, RestoredReplayReachesTheStraightReplaysStatesAndTheRecordingsEnd) {
  RRVM_REQUIRE_KVM();
  const SeedRun& run = seed_run(GetParam());
  ASSERT_EQ(run.setup_error, "") << run.record.err;
  EXPECT_EQ(run.record.status, scenario(GetParam()).status) << run.record.err;
  EXPECT_EQ(run.stateful, seed_board_devices()) << "the devices tested one by one";
  EXPECT_TRUE(run.machine_mismatches.empty()) << lines(run.machine_mismatches);
  EXPECT_GE(run.compared.size(), 2u) << "checkpoints compared after the restored one";
  EXPECT_TRUE(run.device_mismatches.empty()) << run.device_mismatches.size() << " devices differ";
  if (!run.fpu_notes.empty()) std::cout << "note:" << lines(run.fpu_notes) << "\n";

  EXPECT_EQ(run.straight_end.reason, StopReason::kGuestExit) << run.straight_end.message;
  EXPECT_EQ(run.straight_mem, run.recorded_mem) << "the straight replay's end";
  EXPECT_EQ(run.straight_reg, run.recorded_reg);
  ASSERT_EQ(run.restored_ends.size(), 2u);
  for (const Ending& e : run.restored_ends) {
    EXPECT_EQ(e.result.reason, run.straight_end.reason)
        << "from " << e.from << ": " << e.result.message;
    EXPECT_EQ(e.result.status, run.straight_end.status) << "from " << e.from;
    EXPECT_EQ(e.result.exits, run.straight_end.exits) << "from " << e.from;
    EXPECT_EQ(e.mem, run.recorded_mem) << "the final memory digest, restored from " << e.from;
    EXPECT_EQ(e.reg, run.recorded_reg) << "the final register digest, restored from " << e.from;
  }
  EXPECT_EQ(run.output, run.record.out) << "the replays print the recording's output, once";
}

INSTANTIATE_TEST_SUITE_P(Seed, SeedMachineRestore, testing::ValuesIn(scenario_names()),
                         [](const testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace rrvm::test
