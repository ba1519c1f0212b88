#include "replay/recorder.h"

#include "devices/io_device.h"
#include "replay/landmark.h"

namespace rrvm {

using trace::ClockSource;
using trace::Event;

Recorder::Recorder(trace::EventSink& sink, Vcpu& vcpu, DirtyTracker& dirty, RecordOptions opts)
    : sink_(sink), vcpu_(vcpu), dirty_(dirty), opts_(opts) {
  dirty_.reset();  // the first interval starts at power-on
}

Clock& Recorder::device_clock(Clock& inner) {
  clock_.inner = &inner;
  return logs_clock() ? static_cast<Clock&>(clock_) : inner;
}

uint64_t Recorder::LoggingClock::now_ns() {
  uint64_t v = inner->now_ns();
  r_.put(Event::clock_read(r_.ordinal_, ClockSource::kDevice, v));
  return v;
}

void Recorder::on_exit(uint64_t ordinal) {
  ordinal_ = ordinal;
  if (opts_.reg_digest_every && ordinal % opts_.reg_digest_every == 0) {
    put(Event::reg_digest(ordinal_, RegisterSnapshot::from(vcpu_.get_regs()).digest()));
  }
  if (opts_.mem_digest_every && ordinal % opts_.mem_digest_every == 0) {
    put(Event::mem_digest(ordinal_, dirty_.digest()));
    dirty_.reset();
  }
}

void Recorder::on_port_read(uint16_t port, std::span<uint8_t> data) {
  put_modelled(Event::port_read(ordinal_, port, static_cast<uint8_t>(data.size()), load_le(data)));
}

void Recorder::on_mmio_read(uint64_t addr, std::span<uint8_t> data) {
  put_modelled(Event::mmio_read(ordinal_, addr, static_cast<uint8_t>(data.size()), load_le(data)));
}

void Recorder::on_timer_advance(uint64_t now_ns, bool async) {
  if (!logs_clock()) return;
  put(Event::clock_read(ordinal_, async ? ClockSource::kTimerAsync : ClockSource::kTimerExit,
                        now_ns));
}

// The deadline skipped to is the models' (replay computes it); where the
// halt ends relative to packets and console input is not.
void Recorder::on_halt_skip(uint64_t) {
  if (!logs_clock()) put(Event::time_skip(ordinal_, trace::TimeSkip::kHalt));
}

void Recorder::on_spin(uint64_t ns) {
  if (!logs_clock()) put(Event::time_skip(ordinal_, trace::TimeSkip::kSpin, ns));
}

// An input injected away from a natural exit needs the position where it
// happened: the landmark (DESIGN.md, Determinism model, 3).
void Recorder::put_landmark() {
  sink_.append_landmark(Event::landmark(ordinal_), landmark_here(vcpu_, dirty_.digest()));
  dirty_.reset();
  ++events_;
  ++landmarks_;
  logged_through_ = ordinal_;
  logged_lately_ = true;
}

// At an exit the device models decide the injection (replay applies the
// same rule, Board::take_interrupt); away from one, the host's timing did.
void Recorder::on_inject(uint8_t vector, bool async) {
  if (!async) return put_modelled(Event::interrupt(ordinal_, vector, false));
  put_landmark();
  put(Event::interrupt(ordinal_, vector, true));
}

void Recorder::on_nmi(bool async) {
  if (async) put_landmark();
  put(Event::nmi(ordinal_, async));
}

void Recorder::on_console_input(std::span<const uint8_t> bytes) {
  put_bytes(Event::console_input(ordinal_), bytes);
}

void Recorder::on_packet(std::span<const uint8_t> frame) {
  put_bytes(Event::packet(ordinal_), frame);
}

// Once a second. A trace cut off later (SIGKILL) replays up to its last
// event: if nothing was logged in the last second, mark how far the run got
// (with reads left to the models, a guest can run far beyond the last value
// logged). The writer puts what was appended on the disk once a second by
// itself: asking it here as well made two small chunks a second (the two
// timers drift), each ~70 bytes of frame.
void Recorder::on_housekeeping() {
  if (!logged_lately_ && ordinal_ > logged_through_) put(Event::progress(ordinal_));
  logged_lately_ = false;
}

void Recorder::on_msr_read(uint32_t msr, std::optional<uint64_t>& value) {
  if (value) put_modelled(Event::msr_read(ordinal_, msr, *value));
}

void Recorder::on_completion(const Completion& c, uint64_t rip) {
  put(Event::completion(ordinal_, uint8_t(c.insn), c.vector, rip));
}

void Recorder::on_stop(const RunResult& result) {
  sink_.append_text(
      Event::guest_exit(ordinal_, result.status, static_cast<uint64_t>(result.reason)),
      to_string(result.reason));
  ++events_;
}

}  // namespace rrvm
