#include "devices/hpet.h"

#include <algorithm>

#include "devices/hex.h"

namespace rrvm {
namespace {

constexpr uint64_t kLow32 = 0xffffffffu;
// Timers with Tn_PER_INT_CAP: timer 0 only (the spec requires at least one).
constexpr uint64_t kPeriodicTimers = 1u << 0;

bool periodic(const Hpet::Timer& t) {
  return t.config & Hpet::kTypeCnf;
}
// The bits of the counter a timer compares (Tn_32MODE_CNF: the low 32).
uint64_t width_mask(const Hpet::Timer& t) {
  return t.config & Hpet::k32ModeCnf ? kLow32 : ~uint64_t{0};
}
// 2.3.9.2.1: a 32-bit one-shot timer also fires when the counter wraps.
bool fires_on_wrap(const Hpet::Timer& t) {
  return (t.config & Hpet::k32ModeCnf) && !periodic(t);
}

// Ticks from counter value `from` until its bits under `mask` next equal
// `value`, counting up: 1 .. mask + 1 (a value equal to `from` comes round
// again after a wrap). nullopt when that is 2^64 ticks away.
std::optional<uint64_t> ticks_until(uint64_t value, uint64_t from, uint64_t mask) {
  uint64_t d = (value - from) & mask;
  if (d != 0) return d;
  if (mask == ~uint64_t{0}) return std::nullopt;
  return mask + 1;
}

// Splits an access into its part of each 64-bit register it touches:
// fn(register offset, index into the access, bytes, bit shift in the register).
template <class Fn>
void for_each_register(uint64_t offset, size_t size, Fn fn) {
  for (size_t i = 0; i < size;) {
    uint64_t at = offset + i;
    size_t bytes = std::min<size_t>(size - i, 8 - (at & 7));
    fn(at & ~uint64_t{7}, i, bytes, static_cast<int>(8 * (at & 7)));
    i += bytes;
  }
}

}  // namespace

Hpet::Hpet(Clock& clock, const Wiring& wiring, WarnFn warn)
    : clock_(clock), wiring_(wiring), warn_(std::move(warn)) {}

uint64_t Hpet::capabilities() const {
  return kRevId | uint64_t{kTimers - 1} << 8 | kCountSizeCap | (legacy_capable() ? kLegRtCap : 0) |
         kVendorId << 16 | uint64_t{kPeriodFs} << 32;
}

uint32_t Hpet::route_capability() const {
  uint32_t cap = 0;
  for (int i = 0; i < kRoutes; ++i)
    if (wiring_.ioapic[i]) cap |= 1u << i;
  return cap;
}

void Hpet::read(uint64_t offset, std::span<uint8_t> data) {
  check_access(offset, data.size(), "read");
  for_each_register(offset, data.size(), [&](uint64_t reg, size_t i, size_t bytes, int shift) {
    store_le(data.subspan(i, bytes), read_register(reg) >> shift);
  });
}

void Hpet::write(uint64_t offset, std::span<const uint8_t> data) {
  check_access(offset, data.size(), "write");
  for_each_register(offset, data.size(), [&](uint64_t reg, size_t i, size_t bytes, int shift) {
    uint64_t mask = (bytes == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * bytes)) - 1) << shift;
    write_register(reg, load_le(data.subspan(i, bytes)) << shift, mask);
  });
}

// 2.3.1: software accesses the registers 32 or 64 bits at a time, aligned.
void Hpet::check_access(uint64_t offset, size_t size, const char* what) {
  if ((size == 4 || size == 8) && offset % size == 0) return;
  warn(warn_, std::to_string(size) + "-byte " + what + " at " + hex(offset) +
                  " (the HPET takes aligned 32- and 64-bit accesses); served bytewise");
}

uint64_t Hpet::read_register(uint64_t reg) {
  switch (reg) {
    case kGcapId:
      return capabilities();
    case kGenConf:
      return s_.config;
    case kGintrSta:
      sync_now();  // a level-triggered match since the last access sets its bit
      return s_.status;
    case kMainCnt:
      sync_now();
      return s_.counter;
  }
  if (reg < kTimerBase || reg >= timer_reg(kTimers, 0)) return 0;
  int n = static_cast<int>((reg - kTimerBase) / kTimerStride);
  const Timer& t = s_.timers[n];
  switch ((reg - kTimerBase) % kTimerStride) {
    case kTnConfCap:
      return t.config | (kPeriodicTimers >> n & 1 ? kPerIntCap : 0) | kSizeCap |
             uint64_t{route_capability()} << kIntRouteCapShift;
    case kTnComparator:
      sync_now();  // a periodic comparator moves on at each match
      return t.comparator;
    case kTnFsbRoute:
      return t.fsb_route;
  }
  return 0;
}

void Hpet::write_register(uint64_t reg, uint64_t value, uint64_t mask) {
  switch (reg) {
    case kGenConf:
      write_config((s_.config & ~mask) | (value & mask));
      return;
    case kGintrSta:  // write 1 to clear
      sync_now();
      s_.status &= ~(value & mask);
      update_lines();
      return;
    case kMainCnt:
      write_counter(value, mask);
      return;
  }
  if (reg >= kTimerBase && reg < timer_reg(kTimers, 0)) {
    write_timer(static_cast<int>((reg - kTimerBase) / kTimerStride),
                (reg - kTimerBase) % kTimerStride, value, mask);
    return;
  }
  warn(warn_, "write of " + hex(value & mask) + " to " +
                  (reg == kGcapId ? "the read-only GCAP_ID" : "reserved offset " + hex(reg)) +
                  "; ignored");
}

// GEN_CONF: ENABLE_CNF starts and halts the main counter (and gates every
// timer interrupt); LEG_RT_CNF takes IRQ0 and IRQ8 for timers 0 and 1.
void Hpet::write_config(uint64_t value) {
  uint64_t config = value & (kEnableCnf | (legacy_capable() ? kLegRtCnf : 0));
  if (enabled()) {
    sync_now();  // matches up to now happen under the old configuration
  } else if (config & kEnableCnf) {
    s_.counter_tick = clock_.now_ns() / kNsPerTick;  // counting resumes from the held value
  }
  s_.config = config;
  update_lines();
}

// MAIN_CNT: "writes to this register should only be done while the counter
// is halted". A write while it runs still loads the value (no comparator
// matches across the jump) and says so.
void Hpet::write_counter(uint64_t value, uint64_t mask) {
  if (enabled()) {
    sync_now();
    warn(warn_, "MAIN_CNT written while the counter runs (the spec asks for it halted)");
  }
  s_.counter = (s_.counter & ~mask) | (value & mask);
}

void Hpet::write_timer(int n, uint64_t reg, uint64_t value, uint64_t mask) {
  Timer& t = s_.timers[n];
  if (reg == kTnConfCap) {
    write_timer_config(n, (t.config & ~mask) | (value & mask));
  } else if (reg == kTnComparator) {
    write_comparator(n, value, mask);
  } else if (reg == kTnFsbRoute) {
    t.fsb_route = (t.fsb_route & ~mask) | (value & mask);
  } else {
    warn(warn_, "write to reserved offset " + hex(timer_reg(n, reg)) + "; ignored");
  }
}

// Tn_CONF_CAP: the read/write bits. Tn_INT_ROUTE_CNF keeps its value when
// written with an input Tn_INT_ROUTE_CAP does not offer ("the value read
// back will not match what is written"); Tn_32MODE_CNF zeroes the upper
// halves of the comparator and the period.
void Hpet::write_timer_config(int n, uint64_t value) {
  sync_now();
  Timer& t = s_.timers[n];
  uint64_t rw = kIntTypeCnf | kIntEnbCnf | kValSetCnf | k32ModeCnf |
                (kPeriodicTimers >> n & 1 ? kTypeCnf : 0);
  uint64_t route = (value & kIntRouteMask) >> kIntRouteShift;
  uint64_t config = value & rw;
  if (wiring_.ioapic[route] || route == (t.config & kIntRouteMask) >> kIntRouteShift) {
    config |= route << kIntRouteShift;
  } else {
    config |= t.config & kIntRouteMask;
    warn(warn_, "timer " + std::to_string(n) + " routed to IOAPIC input " + std::to_string(route) +
                    ", which Tn_INT_ROUTE_CAP " + hex(route_capability()) +
                    " does not offer; route unchanged");
  }
  t.config = config;
  if (config & k32ModeCnf) {
    t.comparator &= kLow32;
    t.period &= kLow32;
  }
  update_lines();
}

// Tn_COMPARATOR (2.3.9.2): in one-shot mode the match value; in periodic
// mode the period, and with Tn_VAL_SET_CNF the match value too. In 32-bit
// mode the upper half ignores writes.
void Hpet::write_comparator(int n, uint64_t value, uint64_t mask) {
  sync_now();
  Timer& t = s_.timers[n];
  mask &= width_mask(t);
  if (!periodic(t) || (t.config & kValSetCnf))
    t.comparator = (t.comparator & ~mask) | (value & mask);
  if (periodic(t)) t.period = (t.period & ~mask) | (value & mask);
  t.config &= ~kValSetCnf;
}

void Hpet::sync_now() {
  if (enabled()) sync(clock_.now_ns() / kNsPerTick);
}

void Hpet::advance(uint64_t now_ns) {
  if (enabled()) sync(now_ns / kNsPerTick);
}

// Counts the main counter up to `tick` and fires every timer whose event
// came on the way (once, however many periods went by: an edge line gets
// one pulse, as the PIT gives one edge after a long halt).
void Hpet::sync(uint64_t tick) {
  if (tick <= s_.counter_tick) return;
  uint64_t elapsed = tick - s_.counter_tick;
  for (int n = 0; n < kTimers; ++n)
    if (run_timer(s_.timers[n], elapsed)) fire(n);
  s_.counter += elapsed;
  s_.counter_tick = tick;
  update_lines();
}

// Whether `t` matches while the counter goes from State::counter up by
// `elapsed`; a periodic comparator moves past the counter by whole periods
// (2.3.9.2.2: it is increased by the period at every match, wrapping).
bool Hpet::run_timer(Timer& t, uint64_t elapsed) {
  uint64_t mask = width_mask(t);
  bool fired = false;
  auto match = ticks_until(t.comparator, s_.counter, mask);
  if (match && *match <= elapsed) {
    fired = true;
    uint64_t period = t.period & mask;
    if (periodic(t) && period != 0) {
      uint64_t matches = 1 + (elapsed - *match) / period;
      t.comparator = (t.comparator + matches * period) & mask;
    }
  }
  if (fires_on_wrap(t) && *ticks_until(0, s_.counter, kLow32) <= elapsed) fired = true;
  return fired;
}

// Ticks from State::counter to `t`'s next event (match or 32-bit wrap).
std::optional<uint64_t> Hpet::ticks_to_event(const Timer& t) const {
  auto next = ticks_until(t.comparator, s_.counter, width_mask(t));
  if (fires_on_wrap(t)) {
    uint64_t wrap = *ticks_until(0, s_.counter, kLow32);
    next = next ? std::min(*next, wrap) : wrap;
  }
  return next;
}

// A match: a level-triggered timer sets its GINTR_STA bit (its line follows
// in update_lines()); an edge-triggered one pulses its line if enabled.
void Hpet::fire(int n) {
  const Timer& t = s_.timers[n];
  if (t.config & kIntTypeCnf) {
    s_.status |= uint64_t{1} << n;
    return;
  }
  int out = output_of(n);
  if (!(t.config & kIntEnbCnf) || out < 0 || (s_.lines >> out & 1)) return;
  line(out)->pulse();
}

// GEN_CONF LEG_RT_CNF: timer 0 drives IRQ0 (IOAPIC input 2 on the PC) and
// timer 1 IRQ8, whatever their Tn_INT_ROUTE_CNF says; otherwise a timer
// drives the IOAPIC input it is routed to, or nothing (-1).
int Hpet::output_of(int n) const {
  if (legacy() && n == 0) return kIrq0Line;
  if (legacy() && n == 1) return kIrq8Line;
  auto route = static_cast<int>((s_.timers[n].config & kIntRouteMask) >> kIntRouteShift);
  return wiring_.ioapic[route] ? route : -1;
}

IrqLine* Hpet::line(int output) const {
  if (output == kIrq0Line) return wiring_.irq0;
  if (output == kIrq8Line) return wiring_.irq8;
  return wiring_.ioapic[output];
}

// Drives every line to the OR of its sources: level-triggered timers with
// GINTR_STA, Tn_INT_ENB_CNF and ENABLE_CNF set, and, outside
// LegacyReplacement mode, the 8254 on IRQ0 and the RTC on IRQ8.
void Hpet::update_lines() {
  uint64_t want = 0;
  for (int n = 0; n < kTimers; ++n) {
    const Timer& t = s_.timers[n];
    bool active =
        enabled() && (t.config & kIntTypeCnf) && (t.config & kIntEnbCnf) && (s_.status >> n & 1);
    int out = output_of(n);
    if (active && out >= 0) want |= uint64_t{1} << out;
  }
  if (!legacy()) {
    if (s_.legacy_inputs & 1) want |= uint64_t{1} << kIrq0Line;
    if (s_.legacy_inputs & 2) want |= uint64_t{1} << kIrq8Line;
  }
  uint64_t changed = want ^ s_.lines;
  s_.lines = want;
  for (int out = 0; out <= kIrq8Line; ++out) {
    IrqLine* l = line(out);
    if ((changed >> out & 1) && l) l->set_level(want >> out & 1);
  }
}

void Hpet::set_legacy_input(int bit, bool high) {
  s_.legacy_inputs =
      static_cast<uint8_t>((s_.legacy_inputs & ~(1u << bit)) | (high ? 1u << bit : 0));
  update_lines();
}

// The next event of a timer whose event would change a line: an enabled,
// routed edge timer, or a level one whose GINTR_STA bit is still clear.
// Events of the others are found when a register is read.
std::optional<uint64_t> Hpet::next_deadline_ns() const {
  if (!enabled()) return std::nullopt;
  std::optional<uint64_t> best;
  for (int n = 0; n < kTimers; ++n) {
    const Timer& t = s_.timers[n];
    bool level = t.config & kIntTypeCnf;
    if (!(t.config & kIntEnbCnf) || output_of(n) < 0 || (level && (s_.status >> n & 1))) continue;
    auto ticks = ticks_to_event(t);
    if (!ticks) continue;
    auto ns = (static_cast<unsigned __int128>(s_.counter_tick) + *ticks) * kNsPerTick;
    if (ns > ~uint64_t{0}) continue;  // past the end of time
    if (!best || ns < *best) best = static_cast<uint64_t>(ns);
  }
  return best;
}

std::string Hpet::register_name(uint64_t offset) const {
  uint64_t reg = offset & ~uint64_t{7};
  switch (reg) {
    case kGcapId:
      return "GCAP_ID";
    case kGenConf:
      return "GEN_CONF";
    case kGintrSta:
      return "GINTR_STA";
    case kMainCnt:
      return "MAIN_CNT";
  }
  if (reg < kTimerBase || reg >= timer_reg(kTimers, 0)) return {};
  std::string timer = "T" + std::to_string((reg - kTimerBase) / kTimerStride);
  switch ((reg - kTimerBase) % kTimerStride) {
    case kTnConfCap:
      return timer + "_CONF_CAP";
    case kTnComparator:
      return timer + "_COMPARATOR";
    case kTnFsbRoute:
      return timer + "_FSB_INT_ROUTE";
  }
  return {};
}

}  // namespace rrvm
