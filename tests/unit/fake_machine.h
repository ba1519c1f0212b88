// A small machine around the scripted vCPU (tests/unit/fake_vcpu.h) for
// unit tests of recording, replay and replay sessions without KVM: 4 MiB
// of RAM, a periodic timer that is also the interrupt controller, a test
// device on ports and MMIO whose reads give the time, and a guest that
// spins until the timer has interrupted it a few times (asynchronous
// interrupts: landmarks), then halts until the next tick, reads the device
// through MMIO and reports a result that depends on every value it read.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "devices/interrupt_controller.h"
#include "devices/io_device.h"
#include "devices/timed_device.h"
#include "replay/recorder.h"
#include "replay/replay_session.h"
#include "replay/replayer.h"
#include "tests/unit/fake_vcpu.h"
#include "trace/event_stream.h"
#include "vmm/device_states.h"
#include "vmm/machine.h"
#include "vmm/machine_checkpoint.h"
#include "vmm/vcpu_loop.h"

namespace rrvm::test {

constexpr uint64_t kCode = 0x100000, kHandler = 0x100800, kIdt = 0x101000;
constexpr uint64_t kData = 0x200000, kStack = 0x300000, kMmio = 0xd0000000;
constexpr uint8_t kTimerVector = 0x20;
constexpr uint64_t kTimerPeriodNs = 60 * FakeClock::kInsnNs;
constexpr uint64_t kTicks = 4;        // timer interrupts the guest waits for while it spins
constexpr uint64_t kSpinLimit = 300;  // turns of the spin loop before it gives up waiting
constexpr int kExitStatus = 5;

// A periodic timer that is also the interrupt controller: one vector.
class TestTimer final : public TimedDevice, public InterruptController {
 public:
  struct State {
    uint64_t deadline = kTimerPeriodNs;
    bool pending = false;
  };
  std::optional<uint64_t> next_deadline_ns() const override { return s_.deadline; }
  void advance(uint64_t now) override {
    if (now < s_.deadline) return;
    s_.pending = true;
    s_.deadline += kTimerPeriodNs * ((now - s_.deadline) / kTimerPeriodNs + 1);
  }
  bool has_interrupt() const override { return s_.pending; }
  std::optional<uint8_t> acknowledge() override {
    if (!s_.pending) return std::nullopt;
    s_.pending = false;
    return kTimerVector;
  }
  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  State s_;
};

// Offset 0 (port 0x90, and all of its MMIO page) reads the time; offset 1
// (port 0x91) takes the guest's result; offset 0x64 (port 0xf4) ends the
// run with the value written.
class TestPorts final : public IoDevice {
 public:
  // How a changed build's model differs from the recording's.
  struct Model {
    uint64_t skew = 0;               // every value read is XORed with it
    bool reads_clock = true;         // false: reads give 0 without asking the time
    bool reads_clock_twice = false;  // asks for the time once more per read
  };
  struct State {
    uint64_t reads = 0;
    uint64_t result = 0;
  };
  TestPorts(Board& board, Clock& clock, Model model) : board_(board), clock_(clock), m_(model) {}
  std::string_view name() const override { return "test-ports"; }
  void read(uint64_t, std::span<uint8_t> d) override {
    ++s_.reads;
    uint64_t t = m_.reads_clock ? clock_.now_ns() : 0;
    if (m_.reads_clock_twice) t = clock_.now_ns();
    store_le(d, (t / FakeClock::kInsnNs) ^ m_.skew);
  }
  void write(uint64_t offset, std::span<const uint8_t> d) override {
    if (offset == 1) s_.result = load_le(d);
    if (offset == 0x64) board_.stop = RunResult{StopReason::kGuestExit, int(load_le(d)), "", 0};
  }
  uint64_t result() const { return s_.result; }
  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  Board& board_;
  Clock& clock_;
  Model m_;
  State s_;
};

// rax, rbx and [kData + 8] collect what the guest read; rcx counts turns
// of the spin loop (written to memory each turn, so landmarks there need
// the dirty-page digest as well as the registers); [kData] counts ticks.
// The loop gives up after kSpinLimit turns, so a replay whose interrupts
// do not come makes its next exit instead of spinning forever.
inline FakeProgram guest_program() {
  FakeProgram p(kCode);
  p.mov(&kvm_regs::rsp, kStack).sti().in(0x90).op([](FakeVcpu& v) { v.regs().rbx = v.regs().rax; });
  uint64_t spin = p.here();
  p.add(&kvm_regs::rcx, 1).store(kData + 0x10, &kvm_regs::rcx);
  p.jump_if([](FakeVcpu& v) { return v.read(kData) < kTicks && v.regs().rcx < kSpinLimit; }, spin);
  p.cli().load(&kvm_regs::rax, kData + 8).op([](FakeVcpu& v) {
    v.regs().rax += v.regs().rbx + v.regs().rcx;
  });
  p.out(0x91, 4).sti().hlt().cli().op([](FakeVcpu& v) { v.regs().rbx = v.regs().rax; });
  p.mmio_read(kMmio).op([](FakeVcpu& v) { v.regs().rax += v.regs().rbx; }).out(0x91, 4);
  p.mov(&kvm_regs::rax, kExitStatus).out(0xf4);
  p.at(kHandler).op([](FakeVcpu& v) { v.store(kData, v.read(kData) + 1); }).in(0x90);
  p.op([](FakeVcpu& v) { v.store(kData + 8, v.read(kData + 8) + (v.regs().rax & 0xff)); }).iret();
  return p;
}

// Where the recording's host timer kicked the vCPU: every 37 instructions.
inline std::vector<uint64_t> kick_points() {
  std::vector<uint64_t> at;
  for (uint64_t n = 40; n < 4000; n += 37) at.push_back(n);
  return at;
}

struct FakeMachine {
  explicit FakeMachine(TestPorts::Model model = {}, const std::vector<uint64_t>& kicks = {})
      : vcpu(ram, kIdt),
        clock(vcpu),
        ports(board, device_clock, model),
        checkpoints(MachineParts{vcpu, ram, board, states, clock, position}) {
    device_clock.target = &clock;
    board.pio.add(0x90, 0x70, ports);
    board.mmio.add(kMmio, 0x1000, ports);
    board.interrupts = &timer;
    board.timers = {&timer};
    board.describe_vector = [](uint8_t v) { return v == kTimerVector ? "test timer" : ""; };
    states.add("test-timer", timer);
    states.add("test-ports", ports);
    vcpu.install(guest_program(), kCode);
    vcpu.set_gate(kTimerVector, kHandler);
    for (uint64_t k : kicks) vcpu.kick_after(k);
  }
  SessionMachine session_parts() { return {vcpu, ram, board, device_clock, checkpoints}; }

  GuestRam ram{4 << 20};
  FakeVcpu vcpu;
  FakeClock clock;
  ForwardingClock device_clock;
  Board board;
  TestTimer timer;
  TestPorts ports;
  DeviceStates states;
  RunPosition position;
  MachineCheckpoints checkpoints;  // made before the program is written into RAM
};

struct Recording {
  trace::VectorEvents events;
  RunResult result;
  uint64_t guest_result = 0;
  uint64_t final_mem_digest = 0;
  std::vector<uint8_t> delivered;
};

// A recording of the guest with a register digest at every exit and a
// memory digest at every third (so that a replay checkpoint between two
// holds pages of an unfinished digest interval); `log_values`: every read
// value and interrupt stored (rrvm record --log-values). `kicks`: where
// the recording's host timer kicked the vCPU.
inline Recording record(bool log_values, const std::vector<uint64_t>& kicks = kick_points()) {
  Recording out;
  FakeMachine m({}, kicks);
  DirtyTracker dirty(m.ram);
  Recorder rec(
      out.events, m.vcpu, dirty,
      RecordOptions{.reg_digest_every = 1, .mem_digest_every = 3, .log_values = log_values});
  m.device_clock.target = &rec.device_clock(m.clock);
  VcpuLoop loop(m.vcpu, m.ram, m.board, m.clock, LoopOptions{}, &rec);
  out.result = loop.run();
  out.guest_result = m.ports.result();
  out.final_mem_digest = dirty.run_digest();
  out.delivered = m.vcpu.delivered();
  return out;
}

inline ReplayOptions replay_options(bool log_values) {
  ReplayOptions o;
  o.stall_seconds = 5;
  o.reads_modelled = !log_values;
  return o;
}

struct Replay {
  RunResult result;
  ReplayStats stats;
  uint64_t guest_result = 0;
  uint64_t final_mem_digest = 0;
  std::vector<uint8_t> delivered;
};

// `events` replayed from its start on a fresh machine whose test device
// is `model`.
inline Replay replay(trace::VectorEvents& events, const ReplayOptions& opts,
                     TestPorts::Model model = {}) {
  Replay out;
  FakeMachine m(model);
  DirtyTracker dirty(m.ram);
  events.next = 0;
  Replayer rep(events, m.vcpu, m.ram, m.board, dirty, opts);
  m.device_clock.target = &rep.device_clock();
  out.result = rep.run();
  out.stats = rep.stats();
  out.guest_result = m.ports.result();
  out.final_mem_digest = dirty.run_digest();
  out.delivered = m.vcpu.delivered();
  return out;
}

// A test over both kinds of trace: reads left to the device models (the
// default), or every value stored (--log-values). Instantiate with
// testing::Bool() and trace_kind_name.
class TraceKindTest : public testing::TestWithParam<bool> {
 protected:
  bool log_values() const { return GetParam(); }
};

inline std::string trace_kind_name(const testing::TestParamInfo<bool>& p) {
  return p.param ? "LoggedValues" : "ModelledReads";
}

}  // namespace rrvm::test
