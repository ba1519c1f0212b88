#include "replay/recorder.h"

#include "devices/io_device.h"
#include "replay/landmark.h"

namespace rrvm {

using trace::ClockSource;
using trace::Event;

Recorder::Recorder(trace::EventSink& sink, KvmVcpu& vcpu, DirtyTracker& dirty, RecordOptions opts)
    : sink_(sink), vcpu_(vcpu), dirty_(dirty), opts_(opts) {
  dirty_.reset();  // the first interval starts at power-on
}

Clock& Recorder::device_clock(Clock& inner) {
  clock_.inner = &inner;
  return clock_;
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
  put(Event::port_read(ordinal_, port, static_cast<uint8_t>(data.size()), load_le(data)));
}

void Recorder::on_mmio_read(uint64_t addr, std::span<uint8_t> data) {
  put(Event::mmio_read(ordinal_, addr, static_cast<uint8_t>(data.size()), load_le(data)));
}

void Recorder::on_timer_advance(uint64_t now_ns, bool async) {
  put(Event::clock_read(ordinal_, async ? ClockSource::kTimerAsync : ClockSource::kTimerExit,
                        now_ns));
}

// An input injected away from a natural exit needs the position where it
// happened: the landmark (DESIGN.md, Determinism model, 3).
void Recorder::put_landmark() {
  sink_.append_landmark(Event::landmark(ordinal_), landmark_here(vcpu_, dirty_.digest()));
  dirty_.reset();
  ++events_;
  ++landmarks_;
}

void Recorder::on_inject(uint8_t vector, bool async) {
  if (async) put_landmark();
  put(Event::interrupt(ordinal_, vector, async));
}

void Recorder::on_console_input(std::span<const uint8_t> bytes) {
  put_bytes(Event::console_input(ordinal_), bytes);
}

void Recorder::on_packet(std::span<const uint8_t> frame) {
  put_bytes(Event::packet(ordinal_), frame);
}

void Recorder::on_stop(const RunResult& result) {
  sink_.append_text(
      Event::guest_exit(ordinal_, result.status, static_cast<uint64_t>(result.reason)),
      to_string(result.reason));
  ++events_;
}

}  // namespace rrvm
