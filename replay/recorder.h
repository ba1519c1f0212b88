// Recording: an ExecHooks that turns every input of a live run into trace
// Events (DESIGN.md, Determinism model). The event order is the contract
// with the Replayer: for each natural exit N,
//   [reg-digest] [mem-digest]                    at the exit, before handling it
//   (clock-read device | port-read | mmio-read | msr-read)*  while devices handle it
//   completion?                                   an instruction rrvm completed for KVM
//                                                 (stored in both modes: a check, and rare)
//   (clock-read timer-exit | time-skip halt | console-input | packet)*
//                                                 after it, in arrival order
//   (interrupt | nmi) (at exit)?                  injected before re-entry
// and, between exits N and N+1, any number of
//   (clock-read timer-async | time-skip spin)* [landmark (interrupt | nmi) (at landmark)]
// and a progress at the once-a-second housekeeping when nothing else was
// logged in that second but the run made exits (so that a cut-off trace
// replays as far as it was recorded, though most exits log nothing). The
// stop is logged last as guest-exit.
//
// What is left out (RecordOptions::log_values false, the default; the
// trace header says so): read values (MSR reads too) and interrupts
// injected at exits, which replay's device models recompute, and under a
// virtual clock every clock value (replay runs the same virtual clock; the
// halts and spins that move it are logged as time-skip). NMIs and
// completions are always logged. With log_values every value is logged
// as in format 1.0 and no time-skip is.
#pragma once

#include <cstdint>

#include "devices/clock.h"
#include "replay/dirty_tracker.h"
#include "trace/event_stream.h"
#include "vmm/exec_hooks.h"
#include "vmm/vcpu.h"

namespace rrvm {

struct RecordOptions {
  // Exits between digests. They verify replay, and with read values left
  // to the models they are what verifies those too. Each costs 8 bytes that
  // do not compress: at one of each per 4096 exits, a guest making 60,000
  // exits spends 240 bytes on them (one per 256 exits cost 2 KB).
  uint64_t reg_digest_every = 4096;  // exits between register digests
  uint64_t mem_digest_every = 4096;  // exits between dirty-page digests
  // Store every value (format 1.0 behaviour) instead of leaving reads,
  // interrupts at exits and virtual time to the device models.
  bool log_values = false;
  // The run's clock is virtual (--clock virtual): guest time is a function
  // of the execution, so without log_values no clock value is logged.
  bool virtual_time = false;
};

class Recorder final : public ExecHooks {
 public:
  Recorder(trace::EventSink& sink, Vcpu& vcpu, DirtyTracker& dirty, RecordOptions opts);

  // The clock the machine's devices must read: `inner`, wrapped so that
  // every read is logged unless guest time is left to replay (virtual).
  Clock& device_clock(Clock& inner);

  void on_exit(uint64_t ordinal) override;
  void on_port_read(uint16_t port, std::span<uint8_t> data) override;
  void on_mmio_read(uint64_t addr, std::span<uint8_t> data) override;
  void on_timer_advance(uint64_t now_ns, bool async) override;
  void on_halt_skip(uint64_t to_ns) override;
  void on_spin(uint64_t ns) override;
  void on_inject(uint8_t vector, bool async) override;
  void on_nmi(bool async) override;
  void on_console_input(std::span<const uint8_t> bytes) override;
  void on_packet(std::span<const uint8_t> frame) override;
  void on_completion(const Completion& c, uint64_t rip) override;
  void on_msr_read(uint32_t msr, std::optional<uint64_t>& value) override;
  void on_stop(const RunResult& result) override;
  uint64_t housekeeping_interval_ns() const override { return 1'000'000'000; }
  void on_housekeeping() override;

  uint64_t ordinal() const { return ordinal_; }
  uint64_t landmarks() const { return landmarks_; }
  uint64_t events() const { return events_; }
  // Reads and interrupts at exits left to the device models (not logged).
  uint64_t modelled() const { return modelled_; }

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
    logged_through_ = e.ordinal;
    logged_lately_ = true;
  }
  void put_bytes(const trace::Event& e, std::span<const uint8_t> bytes) {
    sink_.append_bytes(e, bytes);
    ++events_;
    logged_through_ = e.ordinal;
    logged_lately_ = true;
  }
  // Where the vCPU stands, for an input that arrives away from an exit.
  void put_landmark();
  // A value the device models recompute: logged only with log_values.
  void put_modelled(const trace::Event& e) {
    if (opts_.log_values)
      put(e);
    else
      ++modelled_;
  }
  // Clock values are logged unless the clock is virtual and left to replay.
  bool logs_clock() const { return opts_.log_values || !opts_.virtual_time; }

  trace::EventSink& sink_;
  Vcpu& vcpu_;
  DirtyTracker& dirty_;
  RecordOptions opts_;
  LoggingClock clock_{*this};
  uint64_t ordinal_ = 0;
  uint64_t logged_through_ = 0;  // ordinal of the last event logged
  bool logged_lately_ = false;   // since the last housekeeping
  uint64_t landmarks_ = 0;
  uint64_t events_ = 0;
  uint64_t modelled_ = 0;
};

}  // namespace rrvm
