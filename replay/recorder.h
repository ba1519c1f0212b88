// Recording: an ExecHooks that turns every input of a live run into trace
// Events (DESIGN.md, Determinism model). The event order is the contract
// with the Replayer: for each natural exit N,
//   [reg-digest] [mem-digest]                    at the exit, before handling it
//   (clock-read device | port-read | mmio-read)*  while devices handle it
//   (clock-read timer-exit | console-input | packet)*  after it, in arrival order
//   interrupt (at exit)?                          injected before re-entry
// and, between exits N and N+1, any number of
//   clock-read timer-async* [landmark interrupt (at landmark)]
// The stop is logged last as guest-exit.
#pragma once

#include <cstdint>

#include "devices/clock.h"
#include "replay/dirty_tracker.h"
#include "trace/event_stream.h"
#include "vmm/exec_hooks.h"
#include "vmm/kvm.h"

namespace rrvm {

struct RecordOptions {
  uint64_t reg_digest_every = 256;   // exits between register digests
  uint64_t mem_digest_every = 4096;  // exits between dirty-page digests
};

class Recorder final : public ExecHooks {
 public:
  Recorder(trace::EventSink& sink, KvmVcpu& vcpu, DirtyTracker& dirty, RecordOptions opts);

  // Wraps `inner` so that every device clock read is logged.
  Clock& device_clock(Clock& inner);

  void on_exit(uint64_t ordinal) override;
  void on_port_read(uint16_t port, std::span<uint8_t> data) override;
  void on_mmio_read(uint64_t addr, std::span<uint8_t> data) override;
  void on_timer_advance(uint64_t now_ns, bool async) override;
  void on_inject(uint8_t vector, bool async) override;
  void on_console_input(std::span<const uint8_t> bytes) override;
  void on_packet(std::span<const uint8_t> frame) override;
  void on_stop(const RunResult& result) override;
  uint64_t housekeeping_interval_ns() const override { return 1'000'000'000; }
  void on_housekeeping() override { sink_.request_flush(); }

  uint64_t ordinal() const { return ordinal_; }
  uint64_t landmarks() const { return landmarks_; }
  uint64_t events() const { return events_; }

 private:
  class LoggingClock final : public Clock {
   public:
    explicit LoggingClock(Recorder& r) : r_(r) {}
    uint64_t now_ns() override;
    Clock* inner = nullptr;

   private:
    Recorder& r_;
  };

  void put(const trace::Event& e) {
    sink_.append(e);
    ++events_;
  }
  void put_bytes(const trace::Event& e, std::span<const uint8_t> bytes) {
    sink_.append_bytes(e, bytes);
    ++events_;
  }
  // Where the vCPU stands, for an input that arrives away from an exit.
  void put_landmark();

  trace::EventSink& sink_;
  KvmVcpu& vcpu_;
  DirtyTracker& dirty_;
  RecordOptions opts_;
  LoggingClock clock_{*this};
  uint64_t ordinal_ = 0;
  uint64_t landmarks_ = 0;
  uint64_t events_ = 0;
};

}  // namespace rrvm
