#include "devices/rtc.h"

#include <algorithm>

namespace rrvm {
namespace {

using Time = Rtc146818::Time;

// Address map (MC146818A datasheet, Figure 3).
constexpr int kSeconds = 0x00;
constexpr int kSecondsAlarm = 0x01;
constexpr int kMinutes = 0x02;
constexpr int kMinutesAlarm = 0x03;
constexpr int kHours = 0x04;
constexpr int kHoursAlarm = 0x05;
constexpr int kDayOfWeek = 0x06;
constexpr int kDayOfMonth = 0x07;
constexpr int kMonth = 0x08;
constexpr int kYear = 0x09;
constexpr int kRegA = 0x0a;
constexpr int kRegB = 0x0b;
constexpr int kRegC = 0x0c;
constexpr int kRegD = 0x0d;
constexpr int kFirstRam = 0x0e;
constexpr int kCentury = 0x32;  // PC convention (IBM AT; ACPI FADT CENTURY)

// Register A.
constexpr uint8_t kAUip = 0x80;
constexpr uint8_t kADividerReset = 0x60;  // DV2-DV1 = 11: divider chain held in reset
constexpr uint8_t kARateMask = 0x0f;
// Register B.
constexpr uint8_t kBSet = 0x80;
constexpr uint8_t kBUie = 0x10;
constexpr uint8_t kBInterruptEnables = 0x70;  // PIE, AIE, UIE: same bits as PF, AF, UF
constexpr uint8_t kBBinary = 0x04;            // DM
constexpr uint8_t kB24Hour = 0x02;
// Register C.
constexpr uint8_t kCIrqf = 0x80;
constexpr uint8_t kCPf = 0x40;
constexpr uint8_t kCAf = 0x20;
constexpr uint8_t kCUf = 0x10;
// Register D.
constexpr uint8_t kDVrt = 0x80;  // valid RAM and time

constexpr uint8_t kHourPm = 0x80;    // 12-hour mode
constexpr uint8_t kAlarmAny = 0xc0;  // alarm byte 11xxxxxx matches any value

// Reset values: 32.768 kHz time base, 1024 Hz periodic rate; 24-hour BCD.
constexpr uint8_t kResetA = 0x26;
constexpr uint8_t kResetB = 0x02;

constexpr uint64_t kSecondNs = 1'000'000'000;
constexpr uint64_t kHalfSecondNs = 500'000'000;
constexpr uint64_t kUipWindowNs = 244'000;  // UIP rises 244 us before an update
constexpr uint64_t kTimeBaseHz = 32768;
constexpr int64_t kDaySeconds = 86400;

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-
// compatible low-level date algorithms"). Days past the month's end carry on.
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Time civil_from_seconds(int64_t secs) {
  int64_t days = floor_div(secs, kDaySeconds), sod = secs - days * kDaySeconds;
  int64_t z = days + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  Time t;
  t.year = static_cast<uint16_t>(yoe + era * 400 + (m <= 2));
  t.month = static_cast<uint8_t>(m);
  t.day = static_cast<uint8_t>(doy - (153 * mp + 2) / 5 + 1);
  t.hour = static_cast<uint8_t>(sod / 3600);
  t.minute = static_cast<uint8_t>(sod / 60 % 60);
  t.second = static_cast<uint8_t>(sod % 60);
  t.dow = static_cast<uint8_t>((days % 7 + 7 + 4) % 7 + 1);  // day 0 was a Thursday (5)
  return t;
}

int64_t to_seconds(const Time& t) {
  return days_from_civil(t.year, t.month, t.day) * kDaySeconds + t.hour * 3600 + t.minute * 60 +
         t.second;
}

uint8_t clamp_field(int v, int lo, int hi) {
  return static_cast<uint8_t>(std::clamp(v, lo, hi));
}

void sanitize(Time& t) {
  t.month = clamp_field(t.month, 1, 12);
  t.day = clamp_field(t.day, 1, 31);
  t.hour = clamp_field(t.hour, 0, 23);
  t.minute = clamp_field(t.minute, 0, 59);
  t.second = clamp_field(t.second, 0, 59);
  t.dow = clamp_field(t.dow, 1, 7);
  t.year = std::min<uint16_t>(t.year, 9999);
}

bool is_time_register(int index) {
  return index == kSeconds || index == kMinutes || index == kHours || index == kCentury ||
         (index >= kDayOfWeek && index <= kYear);
}

}  // namespace

Rtc146818::Rtc146818(Clock& clock, IrqLine& irq8, int64_t epoch_seconds)
    : clock_(clock), irq_(irq8) {
  s_.base = civil_from_seconds(std::clamp<int64_t>(epoch_seconds, 0, kMaxEpochSeconds));
  s_.cmos[kRegA] = kResetA;
  s_.cmos[kRegB] = kResetB;
}

// ---- encodings -------------------------------------------------------------

uint8_t Rtc146818::encode(int v) const {
  v %= 100;
  if (s_.cmos[kRegB] & kBBinary) return static_cast<uint8_t>(v);
  return static_cast<uint8_t>((v / 10) << 4 | (v % 10));
}

// Bad BCD digits are taken at face value (0x5a -> 60) and clamped by the caller.
int Rtc146818::decode(uint8_t v) const {
  if (s_.cmos[kRegB] & kBBinary) return v;
  return (v >> 4) * 10 + (v & 0x0f);
}

uint8_t Rtc146818::encode_hour(int h) const {
  if (s_.cmos[kRegB] & kB24Hour) return encode(h);
  int h12 = h % 12 == 0 ? 12 : h % 12;
  return static_cast<uint8_t>(encode(h12) | (h >= 12 ? kHourPm : 0));
}

int Rtc146818::decode_hour(uint8_t v) const {
  if (s_.cmos[kRegB] & kB24Hour) return decode(v);
  int h = decode(v & static_cast<uint8_t>(~kHourPm));
  if (h < 1 || h > 12) return h + 24;  // no such hour: never matches, clamped on write
  return h % 12 + ((v & kHourPm) ? 12 : 0);
}

// ---- time base -------------------------------------------------------------

bool Rtc146818::divider_running() const {
  return (s_.cmos[kRegA] & kADividerReset) != kADividerReset;
}

bool Rtc146818::updating() const {
  return divider_running() && !(s_.cmos[kRegB] & kBSet);
}

// Updates happen at divider_ns + first_update_ns + k seconds, k >= 0.
uint64_t Rtc146818::updates_upto(uint64_t ns) const {
  uint64_t first = s_.divider_ns + s_.first_update_ns;
  return ns < first ? 0 : (ns - first) / kSecondNs + 1;
}

uint64_t Rtc146818::update_time(uint64_t n) const {
  return s_.divider_ns + s_.first_update_ns + (n - 1) * kSecondNs;
}

uint64_t Rtc146818::updates_since_base(uint64_t now) const {
  if (!updating() || now < s_.base_ns) return 0;
  return updates_upto(now) - updates_upto(s_.base_ns);
}

int64_t Rtc146818::seconds_at(uint64_t now) const {
  return to_seconds(s_.base) + static_cast<int64_t>(updates_since_base(now));
}

// The registers as of `now`: as set while no update has happened since, else
// the set time carried forward (the day of week counts on independently).
Time Rtc146818::time_at(uint64_t now) const {
  uint64_t n = updates_since_base(now);
  if (n == 0) return s_.base;
  int64_t base_secs = to_seconds(s_.base);
  Time t = civil_from_seconds(base_secs + static_cast<int64_t>(n));
  int64_t days = floor_div(base_secs + static_cast<int64_t>(n), kDaySeconds) -
                 floor_div(base_secs, kDaySeconds);
  t.dow = static_cast<uint8_t>(((s_.base.dow - 1 + days) % 7 + 7) % 7 + 1);
  return t;
}

void Rtc146818::rebase(uint64_t now) {
  s_.base = time_at(now);
  s_.base_ns = now;
}

bool Rtc146818::uip(uint64_t now) const {
  if (!updating()) return false;
  return update_time(updates_upto(now) + 1) - now <= kUipWindowNs;
}

// Periodic rate select (datasheet Table 5, 32.768 kHz time base): RS = 1, 2
// give 256 and 128 Hz; RS = r >= 3 gives 65536 >> r Hz. In time-base ticks.
uint64_t Rtc146818::periodic_ticks() const {
  int rs = s_.cmos[kRegA] & kARateMask;
  if (rs == 0) return 0;
  if (rs <= 2) return uint64_t{64} << rs;
  return uint64_t{1} << (rs - 1);
}

uint64_t Rtc146818::periodic_count(uint64_t ns) const {
  uint64_t p = periodic_ticks();
  if (p == 0 || ns <= s_.divider_ns) return 0;
  return ns_to_ticks(ns - s_.divider_ns, kTimeBaseHz) / p;
}

// ---- alarm -----------------------------------------------------------------

bool Rtc146818::alarm_matches(int index, int value) const {
  uint8_t a = s_.cmos[static_cast<size_t>(index)];
  if ((a & kAlarmAny) == kAlarmAny) return true;
  return (index == kHoursAlarm ? decode_hour(a) : decode(a)) == value;
}

std::optional<int64_t> Rtc146818::next_alarm_in_hour(int64_t hour_start, int64_t from) const {
  for (int m = 0; m < 60; ++m) {
    int64_t minute_start = hour_start + m * 60;
    if (minute_start + 59 < from || !alarm_matches(kMinutesAlarm, m)) continue;
    for (int s = 0; s < 60; ++s) {
      if (minute_start + s >= from && alarm_matches(kSecondsAlarm, s)) return minute_start + s;
    }
  }
  return std::nullopt;
}

// The first time value >= `from` (seconds since 1970) that matches the alarm
// registers; a satisfiable alarm matches within a day.
std::optional<int64_t> Rtc146818::next_alarm(int64_t from) const {
  int64_t today = floor_div(from, kDaySeconds) * kDaySeconds;
  for (int64_t day = today; day <= today + kDaySeconds; day += kDaySeconds) {
    for (int h = 0; h < 24; ++h) {
      int64_t hour_start = day + h * 3600;
      if (hour_start + 3599 < from || !alarm_matches(kHoursAlarm, h)) continue;
      if (auto t = next_alarm_in_hour(hour_start, from)) return t;
    }
  }
  return std::nullopt;
}

// ---- flags and interrupt ---------------------------------------------------

// Sets PF, UF, AF for the events in (flags_ns, now] under the register
// settings in force since flags_ns (every register write syncs first).
void Rtc146818::sync_flags(uint64_t now) {
  if (now <= s_.flags_ns) return;
  if (divider_running()) {
    if (periodic_count(now) > periodic_count(s_.flags_ns)) s_.reg_c |= kCPf;
    uint64_t n = updating() ? updates_upto(now) - updates_upto(s_.flags_ns) : 0;
    if (n > 0) {
      s_.reg_c |= kCUf;
      int64_t last = seconds_at(now);
      auto alarm = next_alarm(last - static_cast<int64_t>(n) + 1);
      if (alarm && *alarm <= last) s_.reg_c |= kCAf;
    }
  }
  s_.flags_ns = now;
}

// IRQF = PF.PIE + AF.AIE + UF.UIE; the IRQ pin follows it until C is read.
void Rtc146818::update_irq() {
  bool level = (s_.reg_c & s_.cmos[kRegB] & kBInterruptEnables) != 0;
  if (level == s_.irq_level) return;
  s_.irq_level = level;
  irq_.set_level(level);
}

std::optional<uint64_t> Rtc146818::next_deadline_ns() const {
  if (s_.irq_level || !divider_running()) return std::nullopt;
  uint8_t enables = s_.cmos[kRegB] & kBInterruptEnables;
  std::optional<uint64_t> best;
  auto consider = [&](uint64_t t) { best = best ? std::min(*best, t) : t; };
  if ((enables & kCPf) && periodic_ticks() != 0) {
    uint64_t k = periodic_count(s_.flags_ns) + 1;
    consider(s_.divider_ns + ticks_to_ns(k * periodic_ticks(), kTimeBaseHz));
  }
  if (!updating()) return best;
  uint64_t done = updates_upto(s_.flags_ns);
  if (enables & kCUf) consider(update_time(done + 1));
  if (enables & kCAf) {
    int64_t now_secs = seconds_at(s_.flags_ns);
    if (auto a = next_alarm(now_secs + 1)) consider(update_time(done + uint64_t(*a - now_secs)));
  }
  return best;
}

void Rtc146818::advance(uint64_t now_ns) {
  sync_flags(now_ns);
  update_irq();
}

// ---- registers -------------------------------------------------------------

uint8_t Rtc146818::read_time_reg(int index, uint64_t now) const {
  Time t = time_at(now);
  switch (index) {
    case kSeconds:
      return encode(t.second);
    case kMinutes:
      return encode(t.minute);
    case kHours:
      return encode_hour(t.hour);
    case kDayOfWeek:
      return encode(t.dow);
    case kDayOfMonth:
      return encode(t.day);
    case kMonth:
      return encode(t.month);
    case kYear:
      return encode(t.year % 100);
    default:  // kCentury
      return encode(t.year / 100);
  }
}

// Writes land in the registers as they are; the divider phase is kept, so the
// next update comes when it would have (datasheet: SET only inhibits updates).
void Rtc146818::write_time_reg(int index, uint8_t v, uint64_t now) {
  sync_flags(now);
  rebase(now);
  Time& t = s_.base;
  int val = index == kHours ? decode_hour(v) : decode(v);
  switch (index) {
    case kSeconds:
      t.second = clamp_field(val, 0, 59);
      break;
    case kMinutes:
      t.minute = clamp_field(val, 0, 59);
      break;
    case kHours:
      t.hour = clamp_field(val, 0, 23);
      break;
    case kDayOfWeek:
      t.dow = clamp_field(val, 1, 7);
      break;
    case kDayOfMonth:
      t.day = clamp_field(val, 1, 31);
      break;
    case kMonth:
      t.month = clamp_field(val, 1, 12);
      break;
    case kYear:
      t.year = static_cast<uint16_t>(t.year / 100 * 100 + std::min(val, 99));
      break;
    default:  // kCentury
      t.year = static_cast<uint16_t>(std::min(val, 99) * 100 + t.year % 100);
      break;
  }
}

void Rtc146818::write_a(uint8_t v, uint64_t now) {
  sync_flags(now);
  rebase(now);
  bool was_running = divider_running();
  s_.cmos[kRegA] = v & static_cast<uint8_t>(~kAUip);
  // Leaving divider reset: the first update comes 500 ms later (datasheet,
  // "Divider stages"), the periodic rate counts from here.
  if (!was_running && divider_running()) {
    s_.divider_ns = now;
    s_.first_update_ns = kHalfSecondNs;
  }
}

void Rtc146818::write_b(uint8_t v, uint64_t now) {
  sync_flags(now);
  rebase(now);
  if (v & kBSet) v &= static_cast<uint8_t>(~kBUie);  // SET clears UIE (datasheet, register B)
  s_.cmos[kRegB] = v;
  update_irq();
}

uint8_t Rtc146818::read_c(uint64_t now) {
  sync_flags(now);
  uint8_t v = s_.reg_c;
  if (s_.irq_level) v |= kCIrqf;
  s_.reg_c = 0;
  update_irq();
  return v;
}

uint8_t Rtc146818::read_data() {
  int i = s_.index;
  if (is_time_register(i)) return read_time_reg(i, clock_.now_ns());
  switch (i) {
    case kRegA:
      return static_cast<uint8_t>(s_.cmos[kRegA] | (uip(clock_.now_ns()) ? kAUip : 0));
    case kRegC:
      return read_c(clock_.now_ns());
    case kRegD:
      return kDVrt;
    default:
      return s_.cmos[static_cast<size_t>(i)];
  }
}

void Rtc146818::write_data(uint8_t v) {
  int i = s_.index;
  if (is_time_register(i)) return write_time_reg(i, v, clock_.now_ns());
  switch (i) {
    case kRegA:
      return write_a(v, clock_.now_ns());
    case kRegB:
      return write_b(v, clock_.now_ns());
    case kRegC:
    case kRegD:
      return;  // read-only
    case kSecondsAlarm:
    case kMinutesAlarm:
    case kHoursAlarm:
      sync_flags(clock_.now_ns());  // past updates were checked against the old alarm
      [[fallthrough]];
    default:
      s_.cmos[static_cast<size_t>(i)] = v;
  }
}

void Rtc146818::read(uint64_t offset, std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    // The index register is write-only; reads float high.
    data[i] = offset + i == 1 ? read_data() : 0xff;
  }
}

void Rtc146818::write(uint64_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t off = offset + i;
    if (off == 0) {
      s_.index = data[i] & 0x7f;  // bit 7 gates NMI on the PC, not the index
      s_.nmi_disabled = (data[i] & 0x80) != 0;
    } else if (off == 1) {
      write_data(data[i]);
    }
  }
}

// ---- board set-up and snapshots --------------------------------------------

void Rtc146818::set_cmos(uint8_t index, uint8_t value) {
  index &= 0x7f;
  if (index < kFirstRam || index == kCentury) return;
  s_.cmos[index] = value;
}

void Rtc146818::set_memory_size(uint64_t below_4g, uint64_t above_4g) {
  constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB, k64KiB = 64 * kKiB;
  auto put16 = [&](int lo, uint64_t v) {
    v = std::min<uint64_t>(v, 0xffff);
    s_.cmos[static_cast<size_t>(lo)] = static_cast<uint8_t>(v);
    s_.cmos[static_cast<size_t>(lo + 1)] = static_cast<uint8_t>(v >> 8);
  };
  put16(0x15, std::min<uint64_t>(below_4g, 640 * kKiB) / kKiB);
  uint64_t ext = below_4g > kMiB ? (below_4g - kMiB) / kKiB : 0;
  put16(0x17, ext);
  put16(0x30, ext);
  put16(0x34, below_4g > 16 * kMiB ? (below_4g - 16 * kMiB) / k64KiB : 0);
  uint64_t high = std::min<uint64_t>(above_4g / k64KiB, 0xffffff);
  s_.cmos[0x5b] = static_cast<uint8_t>(high);
  s_.cmos[0x5c] = static_cast<uint8_t>(high >> 8);
  s_.cmos[0x5d] = static_cast<uint8_t>(high >> 16);
}

void Rtc146818::restore(const State& s) {
  s_ = s;
  s_.index &= 0x7f;
  sanitize(s_.base);
  s_.first_update_ns = std::clamp<uint64_t>(s_.first_update_ns, 1, kSecondNs);
  s_.cmos[kRegA] &= static_cast<uint8_t>(~kAUip);
  s_.reg_c &= kCPf | kCAf | kCUf;
}

}  // namespace rrvm
