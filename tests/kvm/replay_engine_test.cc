// The record/replay engine on a hand-assembled 64-bit guest with a test
// timer: a busy loop is interrupted at host-timed kicks (landmarks), the
// handler reads a clock-valued port, and replay must reproduce the result.
#include <gtest/gtest.h>

#include <cstring>

#include "replay/recorder.h"
#include "replay/replayer.h"
#include "tests/kvm/kvm_test_util.h"
#include "vmm/cpu_model.h"
#include "vmm/guest_ram.h"
#include "vmm/vcpu_loop.h"
#include "vmm/x86_boot.h"

namespace rrvm {
namespace {

using trace::EventKind;
using trace::VectorEvents;

constexpr uint64_t kCode = 0x100000, kHandler = 0x100800, kIdt = 0x101000, kData = 0x200000;
constexpr uint8_t kVector = 0x20;

// A periodic timer that is also the interrupt controller.
class TestTimer final : public TimedDevice, public InterruptController {
 public:
  explicit TestTimer(uint64_t period) : period_(period), deadline_(period) {}
  std::optional<uint64_t> next_deadline_ns() const override { return deadline_; }
  void advance(uint64_t now) override {
    if (now < deadline_) return;
    pending_ = true;
    deadline_ += period_ * ((now - deadline_) / period_ + 1);
  }
  bool has_interrupt() const override { return pending_; }
  std::optional<uint8_t> acknowledge() override {
    if (!pending_) return std::nullopt;
    pending_ = false;
    return kVector;
  }

 private:
  uint64_t period_, deadline_;
  bool pending_ = false;
};

// Port 0x90 reads the low bits of the clock; 0x91 takes the result; 0xf4 exits.
class Ports final : public IoDevice {
 public:
  Ports(Board& b, Clock& c, uint64_t skew = 0) : board_(b), clock_(c), skew_(skew) {}
  std::string_view name() const override { return "test-ports"; }
  void read(uint64_t, std::span<uint8_t> d) override {
    store_le(d, (clock_.now_ns() >> 10) ^ skew_);
  }
  void write(uint64_t off, std::span<const uint8_t> d) override {
    if (off == 1) result = load_le(d);
    if (off == 0x64) board_.stop = RunResult{StopReason::kGuestExit, int(load_le(d)), "", 0};
  }
  uint64_t result = 0;

 private:
  Board& board_;
  Clock& clock_;
  uint64_t skew_;
};

std::vector<uint8_t> main_code() {
  return {
      0x48, 0xC7, 0xC4, 0x00, 0x00, 0x30, 0x00,        // mov rsp, 0x300000
      0x0F, 0x01, 0x1C, 0x25, 0x00, 0x20, 0x10, 0x00,  // lidt [0x102000]
      0xFB,                                            // sti
      // loop:
      0x48, 0xFF, 0xC3,                                      // inc rbx
      0x48, 0x83, 0x3C, 0x25, 0x00, 0x00, 0x20, 0x00, 0x14,  // cmp qword [0x200000], 20
      0x72, 0xF3,                                            // jb loop
      0xFA,                                                  // cli
      0x48, 0x8B, 0x04, 0x25, 0x08, 0x00, 0x20, 0x00,        // mov rax, [0x200008]
      0x48, 0x01, 0xD8,                                      // add rax, rbx
      0xE7, 0x91,                                            // out 0x91, eax
      0xB0, 0x05, 0xE6, 0xF4,                                // mov al, 5; out 0xf4, al
  };
}

std::vector<uint8_t> handler_code() {
  return {
      0x48, 0xFF, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00,  // inc qword [0x200000]
      0xE4, 0x90,                                      // in al, 0x90
      0x48, 0x0F, 0xB6, 0xC0,                          // movzx rax, al
      0x48, 0x01, 0x04, 0x25, 0x08, 0x00, 0x20, 0x00,  // add [0x200008], rax
      0x48, 0xCF,                                      // iretq
  };
}

struct Outcome {
  uint64_t result = 0;
  RunResult rr;
};

struct TimerVm {
  TimerVm() : vm(kvm), ram(4 << 20), vcpu(kvm, vm, 0), timer(200'000) {
    ram.attach(vm, true);
    vcpu.set_cpuid(rrvm64_cpuid(0));
    EXPECT_TRUE(ram.write(kCode, main_code()));
    EXPECT_TRUE(ram.write(kHandler, handler_code()));
    uint64_t gate[2] = {
        (kHandler & 0xffff) | (0x10ull << 16) | (0x8Eull << 40) | ((kHandler >> 16 & 0xffff) << 48),
        kHandler >> 32};
    EXPECT_TRUE(ram.write(kIdt + kVector * 16, {reinterpret_cast<uint8_t*>(gate), 16}));
    uint8_t idtr[10] = {0xff, 0x0f};
    uint64_t base = kIdt;
    std::memcpy(idtr + 2, &base, 8);
    EXPECT_TRUE(ram.write(0x102000, idtr));
    enter_long_mode(vcpu, ram, 0x10000, kCode, 0);
    board.interrupts = &timer;
    board.timers.push_back(&timer);
  }
  Kvm kvm;
  KvmVm vm;
  GuestRam ram;
  KvmVcpu vcpu;
  TestTimer timer;
  Board board;
  HostClock clock;
};

// With `log_values`, every read value is stored (rrvm record --log-values);
// without, reads are left to the replaying device models.
Outcome record(VectorEvents& events, bool log_values = false) {
  TimerVm v;
  DirtyTracker dirty(v.ram);
  Recorder rec(
      events, v.vcpu, dirty,
      RecordOptions{.reg_digest_every = 2, .mem_digest_every = 3, .log_values = log_values});
  Ports ports(v.board, rec.device_clock(v.clock));
  v.board.pio.add(0x90, 0x70, ports);
  VcpuLoop loop(v.vcpu, v.ram, v.board, v.clock, {.timeout_sec = 30, .strict_io = false}, &rec);
  Outcome r;
  r.rr = loop.run();
  r.result = ports.result;
  return r;
}

// `skew` stands for a build whose device model differs: the test port
// answers every read with its low bit flipped.
struct ReplaySetup {
  bool values_logged = false;  // the trace was recorded with log_values
  uint64_t skew = 0;
};

Outcome replay(VectorEvents& events, ReplayStats* stats = nullptr, double stall_seconds = 60,
               ReplaySetup setup = {}) {
  TimerVm v;
  DirtyTracker dirty(v.ram);
  events.next = 0;
  ReplayOptions opts{.stall_seconds = stall_seconds, .reads_modelled = !setup.values_logged};
  Replayer rep(events, v.vcpu, v.ram, v.board, dirty, opts);
  Ports ports(v.board, rep.device_clock(), setup.skew);
  v.board.pio.add(0x90, 0x70, ports);
  Outcome r;
  r.rr = rep.run();
  r.result = ports.result;
  if (stats) *stats = rep.stats();
  return r;
}

size_t count_kind(const VectorEvents& events, EventKind kind) {
  size_t n = 0;
  for (const auto& e : events.events) n += e.event.kind == kind;
  return n;
}

// Landmarks and a clock-valued port, in both trace kinds: values left to
// the models (no read event) or all stored.
void busy_loop_replays_exactly(bool log_values) {
  VectorEvents events;
  Outcome rec = record(events, log_values);
  ASSERT_EQ(rec.rr.reason, StopReason::kGuestExit) << rec.rr.message;
  ASSERT_EQ(rec.rr.status, 5);
  size_t landmarks = count_kind(events, EventKind::kLandmark);
  ASSERT_GT(landmarks, 0u) << "no interrupt landed in the busy loop; the test proves nothing";
  EXPECT_EQ(count_kind(events, EventKind::kPortRead) > 0, log_values);

  for (int i = 0; i < 3; ++i) {
    ReplayStats stats;
    Outcome rep = replay(events, &stats, 60, {.values_logged = log_values});
    EXPECT_EQ(rep.rr.reason, StopReason::kGuestExit) << rep.rr.message;
    EXPECT_EQ(rep.rr.status, 5);
    EXPECT_EQ(rep.result, rec.result);
    EXPECT_EQ(stats.landmarks, landmarks);
    EXPECT_EQ(stats.events, events.events.size());
    EXPECT_GT(stats.digests_checked, 0u);
    EXPECT_EQ(stats.model_mismatches, 0u);
    EXPECT_EQ(stats.modelled > 0, !log_values);
  }
}

TEST(ReplayEngine, BusyLoopWithTimerInterruptsReplaysExactly) {
  RRVM_REQUIRE_KVM();
  busy_loop_replays_exactly(/*log_values=*/false);
}

TEST(ReplayEngine, BusyLoopWithLoggedValuesReplaysExactly) {
  RRVM_REQUIRE_KVM();
  busy_loop_replays_exactly(/*log_values=*/true);
}

TEST(ReplayEngine, TwoRecordingsDiffer) {
  RRVM_REQUIRE_KVM();
  VectorEvents a, b;
  Outcome ra = record(a), rb = record(b);
  ASSERT_EQ(ra.rr.reason, StopReason::kGuestExit);
  ASSERT_EQ(rb.rr.reason, StopReason::kGuestExit);
  EXPECT_NE(ra.result, rb.result) << "host timing should make two recordings differ";
}

TEST(ReplayEngine, CorruptedReadValueIsCaught) {
  RRVM_REQUIRE_KVM();
  VectorEvents events;
  Outcome rec = record(events, /*log_values=*/true);
  ASSERT_EQ(rec.rr.reason, StopReason::kGuestExit);
  // The recorded value is what the guest gets: change it and the guest's
  // result changes accordingly, and the register digest catches it.
  for (auto& e : events.events) {
    if (e.event.kind == EventKind::kPortRead) {
      e.event.b ^= 0x1;
      break;
    }
  }
  ReplayStats stats;
  Outcome rep = replay(events, &stats, 2, {.values_logged = true});
  EXPECT_EQ(rep.rr.reason, StopReason::kDiverged) << "a changed input must not replay silently";
  EXPECT_EQ(stats.model_mismatches, 1u) << "the device model disagrees with the edited value";
  EXPECT_NE(rep.rr.message.find("exit"), std::string::npos) << rep.rr.message;
}

TEST(ReplayEngine, MissingEventIsADivergenceNamingTheExit) {
  RRVM_REQUIRE_KVM();
  VectorEvents events;
  ASSERT_EQ(record(events, /*log_values=*/true).rr.reason, StopReason::kGuestExit);
  for (size_t i = 0; i < events.events.size(); ++i) {
    if (events.events[i].event.kind == EventKind::kPortRead) {
      events.events.erase(events.events.begin() + long(i));
      break;
    }
  }
  Outcome rep = replay(events, nullptr, 2, {.values_logged = true});
  EXPECT_EQ(rep.rr.reason, StopReason::kDiverged);
  EXPECT_NE(rep.rr.message.find("at exit"), std::string::npos) << rep.rr.message;
}

// Notes are for people: replay passes over them wherever they stand.
TEST(ReplayEngine, NotesAnywhereInTheStreamChangeNothing) {
  RRVM_REQUIRE_KVM();
  VectorEvents recorded;
  Outcome rec = record(recorded);
  ASSERT_EQ(rec.rr.reason, StopReason::kGuestExit) << rec.rr.message;
  VectorEvents annotated;
  for (size_t i = 0; i < recorded.events.size(); ++i) {
    if (i % 5 == 0)
      annotated.append_text(trace::Event::note(recorded.events[i].event.ordinal), "n");
    annotated.put(recorded.events[i].view());
  }
  ReplayStats stats;
  Outcome rep = replay(annotated, &stats);
  EXPECT_EQ(rep.rr.reason, StopReason::kGuestExit) << rep.rr.message;
  EXPECT_EQ(rep.result, rec.result);
  EXPECT_EQ(stats.events, recorded.events.size());
}

// A straight-line guest at kCode (no interrupts): recorded into `sink`, or
// replayed from `source` with `setup`; register digest at every exit.
RunResult run_straight_line(const std::vector<uint8_t>& code, trace::EventSink* sink,
                            trace::EventSource* source, ReplaySetup setup = {},
                            ReplayStats* stats = nullptr) {
  Kvm kvm;
  KvmVm vm(kvm);
  GuestRam ram(4 << 20);
  ram.attach(vm, true);
  KvmVcpu vcpu(kvm, vm, 0);
  vcpu.set_cpuid(rrvm64_cpuid(0));
  EXPECT_TRUE(ram.write(kCode, code));
  enter_long_mode(vcpu, ram, 0x10000, kCode, 0);
  Board board;
  HostClock clock;
  DirtyTracker dirty(ram);
  if (sink) {
    Recorder rec(
        *sink, vcpu, dirty,
        RecordOptions{
            .reg_digest_every = 1, .mem_digest_every = 0, .log_values = setup.values_logged});
    Ports ports(board, rec.device_clock(clock));
    board.pio.add(0x90, 0x70, ports);
    VcpuLoop loop(vcpu, ram, board, clock, {}, &rec);
    return loop.run();
  }
  Replayer rep(*source, vcpu, ram, board, dirty,
               ReplayOptions{.stall_seconds = 5, .reads_modelled = !setup.values_logged});
  Ports ports(board, rep.device_clock(), setup.skew);
  board.pio.add(0x90, 0x70, ports);
  RunResult r = rep.run();
  if (stats) *stats = rep.stats();
  return r;
}

// Reads the test port into rbx, then into rcx, then exits.
const std::vector<uint8_t> kTwoReads = {
    0xE4, 0x90,              // in al, 0x90      (exit 1)
    0x48, 0x89, 0xC3,        // mov rbx, rax
    0xE4, 0x90,              // in al, 0x90      (exit 2: rbx holds the first value)
    0x48, 0x89, 0xC1,        // mov rcx, rax
    0xB0, 0x00, 0xE6, 0xF4,  // mov al, 0; out 0xf4, al  (exit 3)
};

// A guest that reads the TSC diverges on replay (KVM runs RDTSC without an
// exit); the report must point at the instruction.
TEST(ReplayEngine, DivergenceReportPointsAtRdtscNearRip) {
  RRVM_REQUIRE_KVM();
  std::vector<uint8_t> code = {
      0x0F, 0x31,              // rdtsc
      0x48, 0x89, 0xC3,        // mov rbx, rax
      0xE4, 0x90,              // in al, 0x90   (exit: register digest)
      0xE4, 0x90,              // in al, 0x90
      0xB0, 0x00, 0xE6, 0xF4,  // mov al, 0; out 0xf4, al
  };
  VectorEvents events;
  ASSERT_EQ(run_straight_line(code, &events, nullptr).reason, StopReason::kGuestExit);
  RunResult r = run_straight_line(code, nullptr, &events);
  ASSERT_EQ(r.reason, StopReason::kDiverged) << "the TSC moved on between record and replay";
  EXPECT_NE(r.message.find("register digest differs"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("rdtsc"), std::string::npos) << r.message;
}

// A guest making exits forever, and a trace whose next event is 10^12
// exits on: the recorder logs an event within a second of any exit (a
// progress event if nothing else), so replay ends once the guest has made
// exits for the stall limit without getting there (before: 10^12 exits,
// weeks).
TEST(ReplayEngine, ExitsThatNeverGetToTheNextEventEndAtTheStallLimit) {
  RRVM_REQUIRE_KVM();
  std::vector<uint8_t> code = {
      0xE6, 0x91,  // loop: out 0x91, al
      0xEB, 0xFC,  // jmp loop
  };
  VectorEvents events;
  events.append_text(trace::Event::guest_exit(1'000'000'000'000, 0, 0), "guest exit");
  RunResult r = run_straight_line(code, nullptr, &events);
  ASSERT_EQ(r.reason, StopReason::kDiverged) << r.message;
  EXPECT_NE(r.message.find("the guest has made exits for "), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("since exit 1 without getting to #1000000000000 guest-exit"),
            std::string::npos)
      << r.message;
}

// A trace that leaves reads to the models holds no read values, and replays
// with the models' answers.
TEST(ReplayEngine, ModelledReadsAreNotStoredAndReplayFromTheModels) {
  RRVM_REQUIRE_KVM();
  VectorEvents events;
  ASSERT_EQ(run_straight_line(kTwoReads, &events, nullptr).reason, StopReason::kGuestExit);
  EXPECT_EQ(count_kind(events, EventKind::kPortRead), 0u) << "read values are the models'";
  EXPECT_EQ(count_kind(events, EventKind::kClockRead), 2u)
      << "the port's model reads the host clock: those values are inputs";
  ReplayStats stats;
  events.next = 0;
  RunResult r = run_straight_line(kTwoReads, nullptr, &events, {}, &stats);
  EXPECT_EQ(r.reason, StopReason::kGuestExit) << r.message;
  EXPECT_EQ(stats.modelled, 2u);
  EXPECT_EQ(stats.digests_checked, 3u);
}

// A build whose device model answers differently (here: every value with its
// low bit flipped) replays a modelled trace into a divergence that the
// register digest catches at the next exit, and the report names it.
TEST(ReplayEngine, ChangedDeviceModelIsCaughtByTheDigestAtTheNextExit) {
  RRVM_REQUIRE_KVM();
  VectorEvents events;
  ASSERT_EQ(run_straight_line(kTwoReads, &events, nullptr).reason, StopReason::kGuestExit);
  events.next = 0;
  RunResult r = run_straight_line(kTwoReads, nullptr, &events, {.skew = 1});
  ASSERT_EQ(r.reason, StopReason::kDiverged) << r.message;
  EXPECT_NE(r.message.find("register digest differs at exit 2"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("port-read port=0x90"), std::string::npos)
      << "the report lists the read as the model answered it: " << r.message;
}

// --log-values: the same changed model replays the trace exactly, because
// the guest gets the recorded values; the disagreement is counted.
TEST(ReplayEngine, LoggedValuesReplayOnAChangedDeviceModel) {
  RRVM_REQUIRE_KVM();
  VectorEvents events;
  ASSERT_EQ(run_straight_line(kTwoReads, &events, nullptr, {.values_logged = true}).reason,
            StopReason::kGuestExit);
  EXPECT_EQ(count_kind(events, EventKind::kPortRead), 2u);
  ReplayStats stats;
  events.next = 0;
  RunResult r =
      run_straight_line(kTwoReads, nullptr, &events, {.values_logged = true, .skew = 1}, &stats);
  EXPECT_EQ(r.reason, StopReason::kGuestExit) << r.message;
  EXPECT_EQ(stats.model_mismatches, 2u);
  EXPECT_EQ(stats.modelled, 0u);
}

TEST(ReplayEngine, TruncatedRecordingReplaysItsPrefix) {
  RRVM_REQUIRE_KVM();
  VectorEvents events;
  ASSERT_EQ(record(events).rr.reason, StopReason::kGuestExit);
  events.events.resize(events.events.size() / 2);
  Outcome rep = replay(events);
  EXPECT_EQ(rep.rr.reason, StopReason::kEndOfTrace) << rep.rr.message;
  EXPECT_NE(rep.rr.message.find("truncated"), std::string::npos);
}

// A cut anywhere, even between the events of one exit, is the end of the
// trace, never a divergence.
TEST(ReplayEngine, CutAtAnyEventIsTheEndOfTheTrace) {
  RRVM_REQUIRE_KVM();
  VectorEvents full;
  ASSERT_EQ(record(full).rr.reason, StopReason::kGuestExit);
  for (size_t cut = 1; cut + 1 < full.events.size(); cut += 3) {
    VectorEvents events;
    events.events.assign(full.events.begin(), full.events.begin() + long(cut));
    Outcome rep = replay(events);
    ASSERT_EQ(rep.rr.reason, StopReason::kEndOfTrace)
        << "cut after event " << cut << ": " << rep.rr.message;
  }
}

}  // namespace
}  // namespace rrvm
