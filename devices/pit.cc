#include "devices/pit.h"

#include <algorithm>
#include <limits>

namespace rrvm {
namespace {

using Channel = Pit8254::Channel;

// Control word (8254 datasheet, Figure 7): SC1 SC0 RW1 RW0 M2 M1 M0 BCD.
constexpr int kSelectReadBack = 3;
constexpr int kAccessLatch = 0;
constexpr int kAccessLsb = 1;
constexpr int kAccessMsb = 2;

// Read-back command (Figure 10): 1 1 /COUNT /STATUS CNT2 CNT1 CNT0 0.
constexpr uint8_t kReadBackNoCount = 0x20;
constexpr uint8_t kReadBackNoStatus = 0x10;

// Status byte (Figure 11): OUTPUT, NULL COUNT, RW1 RW0 M2 M1 M0 BCD.
constexpr uint8_t kStatusOut = 0x80;
constexpr uint8_t kStatusNullCount = 0x40;

// Port 0x61 (PC/AT System Control Port B).
constexpr uint8_t kPort61Gate2 = 0x01;     // timer 2 gate
constexpr uint8_t kPort61Writable = 0x0f;  // gate, speaker data, parity/IOCHK enables
constexpr uint8_t kPort61Refresh = 0x10;   // refresh request toggle
constexpr uint8_t kPort61Out2 = 0x20;      // timer 2 output

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

int mode_of(const Channel& c) {
  int m = c.mode_bits & 7;
  return m >= 6 ? m - 4 : m;  // 110 and 111 are modes 2 and 3
}
bool periodic(const Channel& c) {
  int m = mode_of(c);
  return m == 2 || m == 3;
}
uint32_t modulus(const Channel& c) {
  return c.bcd ? 10000 : 0x10000;
}
// Count 1 is illegal in modes 2 and 3 (datasheet); treat it as 2.
uint64_t period(uint32_t n) {
  return std::max<uint32_t>(n, 2);
}

uint32_t from_bcd(uint32_t v) {
  return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}
uint32_t to_bcd(uint32_t v) {
  return (v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | (v % 10);
}
uint16_t encode(const Channel& c, uint32_t count) {
  return static_cast<uint16_t>(c.bcd ? to_bcd(count % 10000) : count & 0xffff);
}
// A written count as a number of ticks; 0 means the maximum (2^16 or 10^4).
uint32_t decode_count(const Channel& c, uint32_t raw) {
  uint32_t v = c.bcd ? from_bcd(raw & 0xffff) % 10000 : raw & 0xffff;
  return v == 0 ? modulus(c) : v;
}

// The count and start in force at `tick`: a count written while a periodic
// mode runs takes over at the end of the period (pending_tick).
struct Segment {
  uint64_t start;
  uint32_t n;
};
Segment segment_at(const Channel& c, uint64_t tick) {
  if (c.pending && periodic(c) && tick >= c.pending_tick) return {c.pending_tick, c.pending_reload};
  return {c.start_tick, c.reload};
}
uint64_t elapsed(const Channel& c, uint64_t tick) {
  if (!c.counting) return c.held_ticks;
  Segment seg = segment_at(c, tick);
  return tick > seg.start ? tick - seg.start : 0;
}

// Mode 3 counts down by two, twice per period: the high half lasts
// ceil(N/2) ticks, the low half floor(N/2) (datasheet, Mode 3).
uint32_t square_count(uint64_t n, uint64_t t) {
  uint64_t phase = t % n, high = (n + 1) / 2, even = n & ~uint64_t{1};
  return static_cast<uint32_t>(phase < high ? even - 2 * phase : even - 2 * (phase - high));
}

uint32_t count_at(const Channel& c, uint64_t tick) {
  if (!c.counting) return c.held_count;
  uint32_t m = modulus(c);
  uint64_t t = elapsed(c, tick);
  uint64_t n = segment_at(c, tick).n;
  switch (mode_of(c)) {
    case 2:
      return static_cast<uint32_t>((period(n) - t % period(n)) % m);
    case 3:
      return square_count(period(n), t) % m;
    default:  // modes 0, 1, 4, 5 count down and wrap
      return static_cast<uint32_t>((n + m - t % m) % m);
  }
}

// OUT per mode (datasheet, "Mode Definitions" and Figure 12 waveforms).
bool out_at(const Channel& c, uint64_t tick) {
  int mode = mode_of(c);
  if (!c.loaded) return mode != 0;  // after a control word: mode 0 low, else high
  if (c.waiting || (periodic(c) && !c.gate)) return true;
  uint64_t t = elapsed(c, tick);
  uint64_t n = c.counting ? segment_at(c, tick).n : c.reload;
  switch (mode) {
    case 0:
    case 1:
      return t >= n;  // high from terminal count on
    case 2:
      return t % period(n) != period(n) - 1;  // low for the tick before reload
    case 3:
      return t % period(n) < (period(n) + 1) / 2;
    default:  // 4, 5: low for one tick at terminal count
      return t != n;
  }
}

// The first rising edge of OUT at a tick after `after`, if it will happen.
std::optional<uint64_t> edge_after(const Channel& c, uint64_t after) {
  if (!c.loaded || c.waiting || !c.counting) return std::nullopt;
  if (periodic(c)) {
    Segment seg = segment_at(c, after);
    uint64_t n = period(seg.n);
    uint64_t k = after < seg.start ? 1 : (after - seg.start) / n + 1;
    return seg.start + k * n;
  }
  uint64_t edge = c.start_tick + c.reload + (mode_of(c) >= 4 ? 1 : 0);
  if (edge > after) return edge;
  return std::nullopt;
}

void start_count(Channel& c, uint32_t n, uint64_t tick) {
  c.reload = n;
  c.loaded = true;
  c.waiting = false;
  c.pending = false;
  c.null_count = false;
  c.start_tick = tick;
  c.held_ticks = 0;
  c.held_count = n % modulus(c);
  c.counting = c.gate;
}

void pause(Channel& c, uint64_t tick) {
  c.held_ticks = elapsed(c, tick);
  c.held_count = count_at(c, tick);
  c.counting = false;
}

void load(Channel& c, uint32_t raw, uint64_t tick) {
  uint32_t n = decode_count(c, raw);
  int mode = mode_of(c);
  if ((mode == 1 || mode == 5) && c.loaded && !c.waiting) {
    // Counting after a trigger: the new count is used at the next trigger.
    c.pending = true;
    c.pending_reload = n;
    c.pending_tick = kNever;
  } else if (mode == 1 || mode == 5) {
    c.reload = n;
    c.loaded = c.waiting = true;
    c.counting = false;
    c.held_ticks = 0;
    c.held_count = n % modulus(c);
  } else if (periodic(c) && c.loaded && c.counting) {
    // Modes 2, 3: a new count does not disturb the current period.
    uint64_t p = period(c.reload);
    c.pending = true;
    c.pending_reload = n;
    c.pending_tick = c.start_tick + (elapsed(c, tick) / p + 1) * p;
    c.null_count = true;
  } else {
    start_count(c, n, tick);
  }
}

uint8_t status_byte(const Channel& c, uint64_t tick) {
  return static_cast<uint8_t>((out_at(c, tick) ? kStatusOut : 0) |
                              (c.null_count ? kStatusNullCount : 0) | (c.access & 3) << 4 |
                              (c.mode_bits & 7) << 1 | (c.bcd ? 1 : 0));
}

// Repairs only what would break the arithmetic (a zero or oversized
// count): a state the chip reached itself comes back unchanged, which
// machine checkpoints rely on. A binary count of 0x10000 stays valid after
// a control word selects BCD, and pending_reload means nothing unless a
// count is pending.
void sanitize(Channel& c) {
  constexpr uint32_t kMaxCount = 0x10000;
  c.mode_bits &= 7;
  c.access &= 3;
  if (c.access == kAccessLatch) c.access = 3;
  uint32_t m = modulus(c);
  if (c.reload == 0 || c.reload > kMaxCount) c.reload = m;
  if (c.pending && (c.pending_reload == 0 || c.pending_reload > kMaxCount)) c.pending_reload = m;
  c.held_count %= m;
}

}  // namespace

Pit8254::Pit8254(Clock& clock, IrqLine& irq0) : clock_(clock), irq0_(irq0) {
  s_.ch[2].gate = false;  // port 0x61 bit 0 is 0 at power-on
}

// Brings every channel up to `tick`: raises a due IRQ0 edge (computed from
// the programming in force until now), then makes pending counts current.
void Pit8254::sync(uint64_t tick) {
  deliver_irq0(tick);
  for (Channel& c : s_.ch) {
    if (c.pending && periodic(c) && tick >= c.pending_tick) {
      c.start_tick = c.pending_tick;
      c.reload = c.pending_reload;
      c.pending = false;
      c.null_count = false;
    }
  }
}

void Pit8254::deliver_irq0(uint64_t tick) {
  std::optional<uint64_t> edge = edge_after(s_.ch[0], s_.irq0_done_tick);
  if (edge && *edge <= tick) irq0_.pulse();
  s_.irq0_done_tick = std::max(s_.irq0_done_tick, tick);
}

std::optional<uint64_t> Pit8254::next_deadline_ns() const {
  std::optional<uint64_t> edge = edge_after(s_.ch[0], s_.irq0_done_tick);
  if (!edge) return std::nullopt;
  return ticks_to_ns(*edge, kHz);
}

void Pit8254::advance(uint64_t now_ns) {
  sync(ns_to_ticks(now_ns, kHz));
}

bool Pit8254::out(int channel) {
  uint64_t tick = now_tick();
  sync(tick);
  return out_at(s_.ch[static_cast<size_t>(channel) % 3], tick);
}

void Pit8254::read(uint64_t offset, std::span<uint8_t> data) {
  uint64_t tick = now_tick();
  sync(tick);
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t off = offset + i;
    // The control word register cannot be read (bus floats high).
    data[i] = off < 3 ? read_counter(s_.ch[off], tick) : 0xff;
  }
}

void Pit8254::write(uint64_t offset, std::span<const uint8_t> data) {
  uint64_t tick = now_tick();
  sync(tick);
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t off = offset + i;
    if (off < 3) write_counter(s_.ch[off], data[i], tick);
    if (off == 3) control(data[i], tick);
  }
}

// Status first if latched, then the latched count, else the live count; two
// byte accesses alternate LSB/MSB (datasheet, "Read Operations").
uint8_t Pit8254::read_counter(Channel& c, uint64_t tick) {
  if (c.status_latched) {
    c.status_latched = false;
    return c.status;
  }
  uint16_t v = c.count_latched ? c.latched : encode(c, count_at(c, tick));
  bool last_byte = true;
  uint8_t byte = static_cast<uint8_t>(v);
  if (c.access == kAccessMsb) {
    byte = static_cast<uint8_t>(v >> 8);
  } else if (c.access != kAccessLsb) {
    if (c.read_msb_next) byte = static_cast<uint8_t>(v >> 8);
    last_byte = c.read_msb_next;
    c.read_msb_next = !c.read_msb_next;
  }
  if (last_byte) c.count_latched = false;
  return byte;
}

void Pit8254::write_counter(Channel& c, uint8_t v, uint64_t tick) {
  if (c.access == kAccessLsb) return load(c, v, tick);
  if (c.access == kAccessMsb) return load(c, uint32_t{v} << 8, tick);
  if (!c.write_msb_next) {
    c.write_lsb = v;
    c.write_msb_next = true;
    // Mode 0: writing the first byte stops the count and drops OUT.
    if (mode_of(c) == 0) {
      c.held_count = count_at(c, tick);
      c.loaded = c.counting = c.pending = false;
    }
    return;
  }
  c.write_msb_next = false;
  load(c, c.write_lsb | uint32_t{v} << 8, tick);
}

// A control word resets the channel's logic: no count until one is written,
// OUT at its initial level (datasheet, "Write Operations").
void Pit8254::control(uint8_t v, uint64_t tick) {
  int sc = v >> 6;
  if (sc == kSelectReadBack) return read_back(v, tick);
  Channel& c = s_.ch[static_cast<size_t>(sc)];
  int rw = (v >> 4) & 3;
  if (rw == kAccessLatch) return latch_count(c, tick);
  c.held_count = count_at(c, tick);
  c.mode_bits = (v >> 1) & 7;
  c.access = static_cast<uint8_t>(rw);
  c.bcd = (v & 1) != 0;
  c.held_count %= modulus(c);
  c.loaded = c.waiting = c.counting = c.pending = false;
  c.write_msb_next = c.read_msb_next = false;
  c.null_count = true;
}

void Pit8254::read_back(uint8_t v, uint64_t tick) {
  for (size_t i = 0; i < 3; ++i) {
    if (!(v & (2u << i))) continue;
    Channel& c = s_.ch[i];
    if (!(v & kReadBackNoCount)) latch_count(c, tick);
    // A second status latch before the first was read is ignored.
    if (!(v & kReadBackNoStatus) && !c.status_latched) {
      c.status = status_byte(c, tick);
      c.status_latched = true;
    }
  }
}

// Only the first latch command counts until the latched value is read.
void Pit8254::latch_count(Channel& c, uint64_t tick) {
  if (c.count_latched) return;
  c.latched = encode(c, count_at(c, tick));
  c.count_latched = true;
}

// Gate behaviour per mode (datasheet, Figure 9 "Gate Pin Operations").
void Pit8254::set_gate(Channel& c, bool level, uint64_t tick) {
  if (level == c.gate) return;
  c.gate = level;
  if (!c.loaded) return;
  int mode = mode_of(c);
  if (!level) {
    if (mode == 1 || mode == 5) return;  // the gate only triggers
    pause(c, tick);
    if (c.pending) c.reload = c.pending_reload;  // stays in the count register
    c.pending = false;
    return;
  }
  if (mode == 0 || mode == 4) {  // resume where it stopped
    c.start_tick = tick >= c.held_ticks ? tick - c.held_ticks : 0;
    c.counting = true;
    return;
  }
  // Modes 1, 2, 3, 5: the rising edge (re)loads the count and starts it.
  if (c.pending) c.reload = c.pending_reload;
  start_count(c, c.reload, tick);
}

uint8_t Pit8254::read_port61() {
  uint64_t tick = now_tick();
  sync(tick);
  uint8_t v =
      static_cast<uint8_t>((s_.port61 & kPort61Writable) | (s_.refresh ? kPort61Refresh : 0) |
                           (out_at(s_.ch[2], tick) ? kPort61Out2 : 0));
  // Refresh toggles every 15 us on hardware; delay loops only wait for it to
  // change, so toggle per read: deterministic and never stuck.
  s_.refresh = !s_.refresh;
  return v;
}

void Pit8254::write_port61(uint8_t v) {
  uint64_t tick = now_tick();
  sync(tick);
  s_.port61 = v & kPort61Writable;
  set_gate(s_.ch[2], (v & kPort61Gate2) != 0, tick);
}

void Pit8254::restore(const State& s) {
  s_ = s;
  for (Channel& c : s_.ch) sanitize(c);
  s_.ch[0].gate = s_.ch[1].gate = true;  // wired high on the PC
  s_.port61 &= kPort61Writable;
  s_.ch[2].gate = (s_.port61 & kPort61Gate2) != 0;
}

void Pit8254::Port61::read(uint64_t offset, std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i == 0 ? pit_.read_port61() : 0xff;
}

void Pit8254::Port61::write(uint64_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (offset + i == 0) pit_.write_port61(data[i]);
  }
}

}  // namespace rrvm
