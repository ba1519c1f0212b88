#include "replay/recorder.h"

#include "devices/io_device.h"

namespace rrvm {

Recorder::Recorder(EventSink& sink, KvmVcpu& vcpu, DirtyTracker& dirty, RecordOptions opts)
    : sink_(sink), vcpu_(vcpu), dirty_(dirty), opts_(opts) {
  dirty_.reset();  // the first interval starts at power-on
}

Clock& Recorder::device_clock(Clock& inner) {
  clock_.inner = &inner;
  return clock_;
}

uint64_t Recorder::LoggingClock::now_ns() {
  uint64_t v = inner->now_ns();
  r_.put(InputKind::kClockRead, static_cast<uint64_t>(ClockSource::kDevice), v);
  return v;
}

void Recorder::put(InputKind kind, uint64_t addr, uint64_t value, uint8_t size, bool async) {
  scratch_.kind = kind;
  scratch_.ordinal = ordinal_;
  scratch_.addr = addr;
  scratch_.value = value;
  scratch_.size = size;
  scratch_.async = async;
  sink_.put(scratch_);
  ++events_;
}

void Recorder::on_exit(uint64_t ordinal) {
  ordinal_ = ordinal;
  if (opts_.reg_digest_every && ordinal % opts_.reg_digest_every == 0) {
    put(InputKind::kRegDigest, 0, RegisterSnapshot::from(vcpu_.get_regs()).digest());
  }
  if (opts_.mem_digest_every && ordinal % opts_.mem_digest_every == 0) {
    put(InputKind::kMemDigest, 0, dirty_.digest());
    dirty_.reset();
  }
}

void Recorder::on_port_read(uint16_t port, std::span<uint8_t> data) {
  put(InputKind::kPortRead, port, load_le(data), static_cast<uint8_t>(data.size()));
}

void Recorder::on_mmio_read(uint64_t addr, std::span<uint8_t> data) {
  put(InputKind::kMmioRead, addr, load_le(data), static_cast<uint8_t>(data.size()));
}

void Recorder::on_timer_advance(uint64_t now_ns, bool async) {
  auto src = async ? ClockSource::kTimerAsync : ClockSource::kTimerExit;
  put(InputKind::kClockRead, static_cast<uint64_t>(src), now_ns);
}

// An interrupt injected away from a natural exit needs the position where
// it happened: the landmark (DESIGN.md, Determinism model, 3).
void Recorder::on_inject(uint8_t vector, bool async) {
  if (async) {
    InputEvent lm;
    lm.kind = InputKind::kLandmark;
    lm.ordinal = ordinal_;
    lm.landmark.ordinal = ordinal_;
    lm.landmark.regs = RegisterSnapshot::from(vcpu_.get_regs());
    lm.landmark.cpl = static_cast<uint8_t>(vcpu_.get_sregs().cs.selector & 3);
    lm.landmark.mem_digest = dirty_.digest();
    dirty_.reset();
    sink_.put(lm);
    ++events_;
    ++landmarks_;
  }
  put(InputKind::kInterrupt, 0, vector, 0, async);
}

void Recorder::on_console_input(std::span<const uint8_t> bytes) {
  put_bytes(InputKind::kConsoleInput, bytes);
}

void Recorder::on_packet(std::span<const uint8_t> frame) {
  put_bytes(InputKind::kPacket, frame);
}

void Recorder::put_bytes(InputKind kind, std::span<const uint8_t> bytes) {
  InputEvent e;
  e.kind = kind;
  e.ordinal = ordinal_;
  e.bytes.assign(bytes.begin(), bytes.end());
  sink_.put(e);
  ++events_;
}

void Recorder::on_stop(const RunResult& result) {
  InputEvent e;
  e.kind = InputKind::kGuestExit;
  e.ordinal = ordinal_;
  e.value = static_cast<uint64_t>(result.status);
  e.addr = static_cast<uint64_t>(result.reason);
  e.text = to_string(result.reason);
  sink_.put(e);
  ++events_;
}

}  // namespace rrvm
