#include "devices/lapic.h"

#include <bit>
#include <limits>
#include <string>

#include "devices/hex.h"
#include "devices/lapic_registers.h"

namespace rrvm {
namespace {

using namespace lapic_regs;
static_assert(kLvtWritable.size() == Lapic::kLvtCount);

bool is_read_only(uint32_t reg) {
  return reg == kRegVersion || reg == kRegApr || reg == kRegPpr || reg == kRegRrd ||
         (reg >= kRegIsr && reg < kRegEsr) || reg == kRegCurrentCount;
}

bool test_bit(const std::array<uint32_t, 8>& r, uint8_t v) {
  return (r[v / 32] >> (v % 32)) & 1;
}
void set_bit(std::array<uint32_t, 8>& r, uint8_t v, bool on) {
  uint32_t bit = 1u << (v % 32);
  r[v / 32] = on ? r[v / 32] | bit : r[v / 32] & ~bit;
}
int highest(const std::array<uint32_t, 8>& r) {
  for (int i = 7; i >= 0; --i) {
    if (r[i]) return i * 32 + 31 - std::countl_zero(r[i]);
  }
  return -1;
}

}  // namespace

Lapic::Lapic(Clock& clock, uint8_t apic_id, WarnFn warn)
    : clock_(clock), initial_id_(apic_id), warn_(std::move(warn)) {
  reset_registers();  // 11.4.7.1: ID = initial ID, LVTs masked, SVR FFh
}

void Lapic::restore(const State& s) {
  s_ = s;
  if (on_mmio_move_) on_mmio_move_(mmio_base());
}

// --- MMIO -------------------------------------------------------------------

void Lapic::read(uint64_t offset, std::span<uint8_t> data) {
  if (mode() != Mode::kXapic) {
    // The board unmaps the page then; this is for a stale mapping or a test.
    warn(warn_, "LAPIC: MMIO read at " + hex(offset) + " while not in xAPIC mode; reads all-ones");
    store_le(data, ~uint64_t{0});
    return;
  }
  uint64_t within = offset & 0xf;
  if (offset >= kMmioSize || within + data.size() > 4) {
    warn(warn_, "LAPIC: " + std::to_string(data.size()) + "-byte read at " + hex(offset) +
                    " is outside a register dword; reads 0");
    store_le(data, 0);
    return;
  }
  if (data.size() != 4) {
    warn(warn_, "LAPIC: " + std::to_string(data.size()) + "-byte read at " + hex(offset) +
                    "; registers are dwords");
  }
  store_le(data, read_register(static_cast<uint32_t>(offset - within)) >> (8 * within));
}

void Lapic::write(uint64_t offset, std::span<const uint8_t> data) {
  if (mode() != Mode::kXapic) {
    warn(warn_, "LAPIC: MMIO write at " + hex(offset) + " while not in xAPIC mode; ignored");
    return;
  }
  if (offset >= kMmioSize || (offset & 0xf) != 0 || data.size() != 4) {
    warn(warn_, "LAPIC: " + std::to_string(data.size()) + "-byte write at " + hex(offset) +
                    " is not an aligned register dword; ignored");
    return;
  }
  write_register(static_cast<uint32_t>(offset), static_cast<uint32_t>(load_le(data)));
}

uint32_t Lapic::read_register(uint32_t reg) {
  if (reg >= kRegIsr && reg < kRegEsr) {
    int i = (reg - kRegIsr) / 0x10;  // eight 32-bit words per register, 16-byte stride
    const auto& r = i < 8 ? s_.isr : i < 16 ? s_.tmr : s_.irr;
    return r[i % 8];
  }
  if (reg >= kRegLvtTimer && reg < kRegLvtEnd) return s_.lvt[(reg - kRegLvtTimer) / 0x10];
  if (auto v = read_scalar(reg)) return *v;
  illegal_register(reg, "read");
  return 0;
}

std::optional<uint32_t> Lapic::read_scalar(uint32_t reg) {
  switch (reg) {
    case kRegId:
      return uint32_t{s_.id} << 24;
    case kRegVersion:
      return kVersion;
    case kRegTpr:
      return s_.tpr;
    case kRegApr:
      return 0;  // no arbitration priority on the xAPIC system bus
    case kRegPpr:
      return ppr();
    case kRegEoi:
      return 0;  // write-only
    case kRegRrd:
      return 0;  // remote read not supported
    case kRegLdr:
      return s_.ldr;
    case kRegDfr:
      return s_.dfr;
    case kRegSvr:
      return s_.svr;
    case kRegEsr:
      return s_.esr;
    case kRegIcrLow:
      return s_.icr_low;  // delivery status always idle
    case kRegIcrHigh:
      return s_.icr_high;
    case kRegInitialCount:
      return s_.initial_count;
    case kRegCurrentCount:
      return current_count(timer_now());
    case kRegDivide:
      return s_.divide_config;
  }
  return std::nullopt;
}

void Lapic::write_register(uint32_t reg, uint32_t v) {
  if (write_lvt_or_timer(reg, v)) return;
  switch (reg) {
    case kRegId:
      s_.id = static_cast<uint8_t>(v >> 24);
      return;
    case kRegTpr:
      s_.tpr = static_cast<uint8_t>(v);
      return;
    case kRegEoi:
      eoi();
      return;
    case kRegLdr:
      s_.ldr = v & kHighByte;
      return;
    case kRegDfr:
      s_.dfr = (v & kDfrModelMask) | ~kDfrModelMask;
      return;
    case kRegSvr:
      write_svr(v);
      return;
    case kRegEsr:
      write_esr();
      return;
    case kRegIcrLow:
      s_.icr_low = v & kIcrLowWritable;
      send_ipi();
      return;
    case kRegIcrHigh:
      s_.icr_high = v & kHighByte;
      return;
  }
  if (is_read_only(reg)) {
    warn(warn_, "LAPIC: write of " + hex(v) + " to read-only register " + hex(reg) + "; ignored");
    return;
  }
  illegal_register(reg, "write");
}

// The registers that move the timer: LVTs, initial count, divide configuration.
bool Lapic::write_lvt_or_timer(uint32_t reg, uint32_t v) {
  if (reg >= kRegLvtTimer && reg < kRegLvtEnd) {
    write_lvt((reg - kRegLvtTimer) / 0x10, v);
    return true;
  }
  if (reg == kRegInitialCount) {
    uint64_t now = clock_.now_ns();
    sync_timer(now);
    s_.initial_count = v;
    restart_timer(now, v);  // 11.5.4: a write starts the count; 0 stops the timer
    return true;
  }
  if (reg == kRegDivide) {
    // A running count continues from its current value at the new rate.
    uint64_t now = timer_now();
    sync_timer(now);
    uint32_t left = current_count(now);
    s_.divide_config = v & 0xb;  // bits 0, 1, 3
    if (s_.timer_armed) restart_timer(now, left);
    return true;
  }
  return false;
}

void Lapic::write_svr(uint32_t v) {
  sync_timer(timer_now());  // expiries before the write still see the old mask
  s_.svr = v & kSvrWritable;
  if (!software_enabled()) {
    for (auto& e : s_.lvt) e |= kLvtMasked;  // 11.4.7.2
  }
}

void Lapic::write_lvt(int index, uint32_t v) {
  uint32_t& e = s_.lvt[index];
  uint32_t next = (e & ~kLvtWritable[index]) | (v & kLvtWritable[index]);
  if (!software_enabled()) next |= kLvtMasked;  // 11.4.7.2: the mask cannot be cleared
  if (index != kLvtTimer) {
    e = next;
    return;
  }
  // The timer runs on with the old settings up to now, then with the new mode.
  uint64_t now = timer_now();
  sync_timer(now);
  bool mode_changed = (e ^ next) & kLvtTimerPeriodic;
  uint32_t left = current_count(now);
  e = next;
  if (mode_changed && s_.timer_armed) restart_timer(now, left);
}

// 11.5.3: writing ESR makes the errors since the previous write readable.
void Lapic::write_esr() {
  s_.esr = s_.esr_pending;
  s_.esr_pending = 0;
}

void Lapic::illegal_register(uint32_t reg, const char* what) {
  warn(warn_, std::string("LAPIC: ") + what + " of unimplemented register " + hex(reg) +
                  "; ESR Illegal Register Address");
  signal_error(kErrIllegalRegister);
}

void Lapic::signal_error(uint32_t bit) {
  s_.esr_pending |= bit;
  uint32_t e = s_.lvt[kLvtError];
  auto vector = static_cast<uint8_t>(e);
  // An illegal error vector would raise another error: it is simply not delivered.
  if (!(e & kLvtMasked) && vector >= kFirstLegalVector) accept(vector, false);
}

// --- Priority, acceptance, EOI (11.8) ----------------------------------------

uint8_t Lapic::ppr() const {
  int isrv = highest(s_.isr);
  uint8_t isr_class = isrv < 0 ? 0 : static_cast<uint8_t>(isrv & 0xf0);
  return (s_.tpr & 0xf0) >= isr_class ? s_.tpr : isr_class;
}

bool Lapic::has_interrupt() const {
  int v = highest(s_.irr);
  return v >= 0 && (v & 0xf0) > (ppr() & 0xf0);
}

std::optional<uint8_t> Lapic::acknowledge() {
  int v = highest(s_.irr);
  if (v < 0) return std::nullopt;
  if (!has_interrupt()) return static_cast<uint8_t>(s_.svr);  // 11.9: spurious, ISR untouched
  auto vector = static_cast<uint8_t>(v);
  set_bit(s_.irr, vector, false);
  set_bit(s_.isr, vector, true);
  return vector;
}

bool Lapic::accept(uint8_t vector, bool level) {
  if (!software_enabled()) return false;
  if (vector < kFirstLegalVector) {
    signal_error(kErrReceiveIllegalVector);
    return false;
  }
  set_bit(s_.irr, vector, true);
  set_bit(s_.tmr, vector, level);  // 11.8.4: TMR records the trigger mode on acceptance
  return true;
}

bool Lapic::accept_interrupt(uint8_t vector, bool level_triggered) {
  return accept(vector, level_triggered);
}

// 11.8.5: EOI retires the highest-priority in-service interrupt; for a
// level-triggered one (TMR set) the EOI message goes to the IOAPICs.
void Lapic::eoi() {
  int v = highest(s_.isr);
  if (v < 0) return;
  auto vector = static_cast<uint8_t>(v);
  set_bit(s_.isr, vector, false);
  if (test_bit(s_.tmr, vector) && on_eoi_) on_eoi_(vector);
}

bool Lapic::software_enabled() const {
  return (s_.svr & kSvrEnable) != 0;
}

bool Lapic::lint0_extint() const {
  uint32_t e = s_.lvt[kLvtLint0];
  return software_enabled() && !(e & kLvtMasked) && ((e >> kDeliveryModeShift) & 7) == kModeExtInt;
}

bool Lapic::take_nmi() {
  bool pending = s_.nmi_pending;
  s_.nmi_pending = false;
  return pending;
}

// 11.6.2: physical (APIC ID, FFh broadcast) and logical (flat / cluster)
// destinations. IOAPIC messages carry 8 bits; in x2APIC mode their FFh is
// the broadcast, as KVM treats it (no interrupt remapping here).
bool Lapic::is_destination(uint8_t destination, bool logical) const {
  uint32_t d = destination;
  if (mode() == Mode::kX2apic && destination == 0xff) d = 0xffffffff;
  return matches(d, logical);
}

bool Lapic::matches(uint32_t destination, bool logical) const {
  switch (mode()) {
    case Mode::kDisabled:
      return false;  // 11.4.3: a disabled APIC takes no messages
    case Mode::kX2apic:
      // 11.12.10.2: logical = cluster (31:16) and a bit in 15:0.
      if (destination == 0xffffffff) return true;
      if (!logical) return destination == initial_id_;
      return (destination >> 16) == (s_.ldr >> 16) && (destination & s_.ldr & 0xffff) != 0;
    case Mode::kXapic:
      break;
  }
  if (destination == 0xff) return true;
  if (!logical) return destination == s_.id;
  auto ldr = static_cast<uint8_t>(s_.ldr >> 24);
  if ((s_.dfr & kDfrModelMask) == kDfrFlat) return (ldr & destination) != 0;
  return (ldr >> 4) == (destination >> 4) && (ldr & destination & 0x0f) != 0;
}

// 11.6.1: with one CPU, only fixed and NMI IPIs to this APIC (self, all
// including self, or its own destination) go anywhere. The x2APIC ICR
// holds a 32-bit destination in its high half (11.12.9).
void Lapic::send_ipi() {
  auto vector = static_cast<uint8_t>(s_.icr_low);
  uint32_t delivery = (s_.icr_low >> kDeliveryModeShift) & 7;
  int shorthand = (s_.icr_low >> kIcrShorthandShift) & 3;
  uint32_t dest = mode() == Mode::kX2apic ? s_.icr_high : s_.icr_high >> 24;
  bool to_self = shorthand == kSelf || shorthand == kAllIncludingSelf ||
                 (shorthand == kNoShorthand && matches(dest, s_.icr_low & kIcrDestLogical));
  if (to_self && (delivery == kModeFixed || delivery == kModeNmi)) {
    deliver_self(delivery, vector, "IPI");
    return;
  }
  warn(warn_, "LAPIC: IPI " + hex(s_.icr_low) + " / " + hex(s_.icr_high) +
                  " has no target on this single-CPU machine; ignored");
}

// A fixed or NMI interrupt this APIC sends itself (ICR, SELF IPI): an
// illegal fixed vector is a send error (11.5.3).
void Lapic::deliver_self(uint32_t delivery, uint8_t vector, const char* source) {
  if (delivery == kModeNmi) {
    accept_nmi();
    return;
  }
  if (vector < kFirstLegalVector) {
    warn(warn_, std::string("LAPIC: ") + source + " with illegal vector " + hex(vector) +
                    "; ESR Send Illegal Vector");
    signal_error(kErrSendIllegalVector);
    return;
  }
  accept(vector, false);
}

// --- LINT1 (11.5.1) -----------------------------------------------------------

void Lapic::set_lint1(bool level) {
  bool rising = level && !s_.lint1_level;
  s_.lint1_level = level;
  if (!rising) return;
  if (mode() == Mode::kDisabled) {  // 11.4.3: the pin is the CPU's NMI input
    accept_nmi();
    return;
  }
  uint32_t e = s_.lvt[kLvtLint1];
  if (e & kLvtMasked) return;
  uint32_t delivery = (e >> kDeliveryModeShift) & 7;
  auto vector = static_cast<uint8_t>(e);
  if (delivery == kModeNmi) {
    accept_nmi();  // NMI ignores the vector and is always edge-triggered
  } else if (delivery != kModeFixed) {
    warn(warn_, "LAPIC: LINT1 edge with LVT delivery mode " + std::to_string(delivery) +
                    " (SMI/INIT/ExtINT/reserved), not supported; dropped");
  } else if (vector < kFirstLegalVector) {
    signal_error(kErrReceiveIllegalVector);
  } else {
    accept(vector, false);
  }
}

// --- Timer (11.5.4) -----------------------------------------------------------

// Divide configuration bits 3, 1:0 (Figure 11-10): 000 = 2 ... 110 = 128, 111 = 1.
uint32_t Lapic::divisor() const {
  uint32_t v = (s_.divide_config & 3) | ((s_.divide_config >> 1) & 4);
  return v == 7 ? 1 : 2u << v;
}

bool Lapic::periodic() const {
  return (s_.lvt[kLvtTimer] & kLvtTimerPeriodic) != 0;
}

uint64_t Lapic::counts_at(uint64_t now) const {
  if (now <= s_.timer_start_ns) return 0;
  return ns_to_ticks(now - s_.timer_start_ns, kBusHz) / divisor();
}

uint64_t Lapic::expiries_at(uint64_t now) const {
  uint64_t c = counts_at(now);
  if (!s_.timer_armed || c < s_.timer_first) return 0;
  if (!periodic() || s_.initial_count == 0) return 1;
  return 1 + (c - s_.timer_first) / s_.initial_count;
}

uint32_t Lapic::current_count(uint64_t now) const {
  if (!s_.timer_armed) return 0;
  uint64_t c = counts_at(now);
  if (c < s_.timer_first) return static_cast<uint32_t>(s_.timer_first - c);
  if (!periodic() || s_.initial_count == 0) return 0;
  return static_cast<uint32_t>(s_.initial_count - (c - s_.timer_first) % s_.initial_count);
}

// Clock time of the k-th expiry (k >= 1) since timer_start_ns.
uint64_t Lapic::expiry_ns(uint64_t k) const {
  using u128 = unsigned __int128;
  u128 counts = u128{s_.timer_first} + u128{k - 1} * s_.initial_count;
  u128 ns = (counts * divisor() * 1'000'000'000u + kBusHz - 1) / kBusHz;
  u128 at = ns + s_.timer_start_ns;
  return at > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                   : static_cast<uint64_t>(at);
}

// Processes the expiries up to `now`. Several missed periods raise one
// interrupt (they would coalesce in IRR anyway); a masked timer raises none.
void Lapic::sync_timer(uint64_t now) {
  if (!s_.timer_armed) return;
  uint64_t n = expiries_at(now);
  if (n <= s_.timer_expired) return;
  s_.timer_expired = n;
  uint32_t e = s_.lvt[kLvtTimer];
  if (!(e & kLvtMasked)) {
    if (static_cast<uint8_t>(e) < kFirstLegalVector) {
      signal_error(kErrReceiveIllegalVector);
    } else {
      accept(static_cast<uint8_t>(e), false);
    }
  }
  if (!periodic()) s_.timer_armed = false;
}

// Clock reads are recorded inputs: take one only when a running timer needs it.
uint64_t Lapic::timer_now() const {
  return s_.timer_armed ? clock_.now_ns() : s_.timer_start_ns;
}

void Lapic::restart_timer(uint64_t now, uint64_t first) {
  s_.timer_armed = first != 0;
  s_.timer_start_ns = now;
  s_.timer_first = first;
  s_.timer_expired = 0;
}

std::optional<uint64_t> Lapic::next_deadline_ns() const {
  if (!s_.timer_armed || (s_.lvt[kLvtTimer] & kLvtMasked)) return std::nullopt;
  return expiry_ns(s_.timer_expired + 1);
}

void Lapic::advance(uint64_t now_ns) {
  sync_timer(now_ns);
}

}  // namespace rrvm
