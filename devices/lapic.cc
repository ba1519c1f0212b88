#include "devices/lapic.h"

#include <bit>
#include <limits>
#include <string>

#include "devices/hex.h"

namespace rrvm {
namespace {

// Register offsets (SDM Table 11-1, "Local APIC Register Address Map").
constexpr uint32_t kRegId = 0x020, kRegVersion = 0x030, kRegTpr = 0x080, kRegApr = 0x090;
constexpr uint32_t kRegPpr = 0x0a0, kRegEoi = 0x0b0, kRegRrd = 0x0c0, kRegLdr = 0x0d0;
constexpr uint32_t kRegDfr = 0x0e0, kRegSvr = 0x0f0;
constexpr uint32_t kRegIsr = 0x100, kRegTmr = 0x180, kRegIrr = 0x200, kRegEsr = 0x280;
constexpr uint32_t kRegIcrLow = 0x300, kRegIcrHigh = 0x310, kRegLvtTimer = 0x320;
constexpr uint32_t kRegLvtEnd = 0x380;  // LVTs occupy 0x320-0x370
constexpr uint32_t kRegInitialCount = 0x380, kRegCurrentCount = 0x390, kRegDivide = 0x3e0;

// SVR (11.9): vector 7:0, APIC software enable 8, focus processor checking 9.
constexpr uint32_t kSvrEnable = 1u << 8;
constexpr uint32_t kSvrWritable = 0x3ff;
// DFR (11.6.2.2): model in 31:28 (1111 flat, 0000 cluster), 27:0 read as 1s.
constexpr uint32_t kDfrModelMask = 0xf0000000;
constexpr uint32_t kDfrFlat = 0xf0000000;

// LVT fields (11.5.1, Figure 11-8).
constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kLvtTimerPeriodic = 1u << 17;
constexpr int kDeliveryModeShift = 8;
constexpr uint32_t kModeFixed = 0, kModeNmi = 4, kModeExtInt = 7;
// Writable bits per LVT: timer (vector, mask, mode 17; 18 = TSC-deadline not
// offered), thermal and perf (vector, delivery mode, mask), LINT0/1 (plus
// polarity 13, trigger 15), error (vector, mask). Delivery status and
// remote IRR are read-only.
constexpr std::array<uint32_t, Lapic::kLvtCount> kLvtWritable = {
    0x000300ff, 0x000107ff, 0x000107ff, 0x0001a7ff, 0x0001a7ff, 0x000100ff};

// ESR bits (11.5.3, Figure 11-9).
constexpr uint32_t kErrSendIllegalVector = 1u << 5;
constexpr uint32_t kErrReceiveIllegalVector = 1u << 6;
constexpr uint32_t kErrIllegalRegister = 1u << 7;

// ICR (11.6.1, Figure 11-12).
constexpr uint32_t kIcrLowWritable = 0x000ccfff;  // delivery status (12) is read-only
constexpr uint32_t kIcrDestLogical = 1u << 11;
constexpr int kIcrShorthandShift = 18;
enum Shorthand { kNoShorthand = 0, kSelf = 1, kAllIncludingSelf = 2, kAllExcludingSelf = 3 };
constexpr uint32_t kHighByte = 0xff000000;

// Vectors 0-15 are reserved for exceptions; an APIC refuses them (11.5.2).
constexpr uint8_t kFirstLegalVector = 16;

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

Lapic::Lapic(Clock& clock, uint8_t apic_id, WarnFn warn) : clock_(clock), warn_(std::move(warn)) {
  s_.id = apic_id;
  s_.lvt.fill(kLvtMasked);  // 11.4.7.1: LVTs reset to masked
}

// --- MMIO -------------------------------------------------------------------

void Lapic::read(uint64_t offset, std::span<uint8_t> data) {
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

// 11.6.2: physical (APIC ID, FFh broadcast) and logical (flat / cluster) destinations.
bool Lapic::is_destination(uint8_t destination, bool logical) const {
  if (destination == 0xff) return true;
  if (!logical) return destination == s_.id;
  auto ldr = static_cast<uint8_t>(s_.ldr >> 24);
  if ((s_.dfr & kDfrModelMask) == kDfrFlat) return (ldr & destination) != 0;
  return (ldr >> 4) == (destination >> 4) && (ldr & destination & 0x0f) != 0;
}

// 11.6.1: with one CPU, only fixed interrupts to this APIC (self, all
// including self, or its own destination) go anywhere.
void Lapic::send_ipi() {
  auto vector = static_cast<uint8_t>(s_.icr_low);
  uint32_t mode = (s_.icr_low >> kDeliveryModeShift) & 7;
  int shorthand = (s_.icr_low >> kIcrShorthandShift) & 3;
  bool to_self =
      shorthand == kSelf || shorthand == kAllIncludingSelf ||
      (shorthand == kNoShorthand &&
       is_destination(static_cast<uint8_t>(s_.icr_high >> 24), s_.icr_low & kIcrDestLogical));
  if (mode == kModeFixed && to_self) {
    if (vector < kFirstLegalVector) {
      signal_error(kErrSendIllegalVector);
      return;
    }
    accept(vector, false);
    return;
  }
  if (mode == kModeNmi && to_self) {
    accept_nmi();
    return;
  }
  warn(warn_, "LAPIC: IPI " + hex(s_.icr_low) + " / " + hex(s_.icr_high) +
                  " has no target on this single-CPU machine; ignored");
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
