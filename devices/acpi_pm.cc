#include "devices/acpi_pm.h"

#include <array>
#include <string>

#include "devices/hex.h"

namespace rrvm {
namespace {

// Status bits this block implements; the rest of PM1_STS reads 0 (4.8.3.1).
constexpr uint16_t kStatusBits =
    AcpiPm::kTmr | AcpiPm::kGbl | AcpiPm::kPwrBtn | AcpiPm::kSlpBtn | AcpiPm::kRtc | AcpiPm::kWak;
// Enable bits (Table 4.15): TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN.
constexpr uint16_t kEnableBits =
    AcpiPm::kTmr | AcpiPm::kGbl | AcpiPm::kPwrBtn | AcpiPm::kSlpBtn | AcpiPm::kRtc;
// PM1_CNT bits that hold a value: SCI_EN, BM_RLD, SLP_TYP. GBL_RLS (bit 2)
// and SLP_EN (bit 13) are write-only and read 0.
constexpr uint16_t kControlBits = 0x1c03;

// TMR_STS is set whenever bit 23 of the timer changes (4.8.3.3), i.e. every 2^23 ticks.
constexpr int kCarryShift = 23;
constexpr uint32_t kTimerMask = 0x00ffffff;

uint64_t ticks_at(uint64_t now) {
  return ns_to_ticks(now, AcpiPm::kTimerHz);
}

bool overlaps(uint64_t offset, size_t len, uint64_t first, uint64_t end) {
  return offset < end && offset + len > first;
}

}  // namespace

AcpiPm::AcpiPm(Clock& clock, IrqLine& sci, std::function<void()> on_power_off, WarnFn warn,
               std::function<void()> on_sleep)
    : clock_(clock),
      sci_(sci),
      on_power_off_(std::move(on_power_off)),
      warn_(std::move(warn)),
      on_sleep_(std::move(on_sleep)),
      rtc_input_([this](bool high) {
        bool rising = high && !s_.rtc_level;
        s_.rtc_level = high;
        if (rising) wake_event(kRtc);
      }) {}

uint32_t AcpiPm::timer_value(uint64_t now_ns) {
  return static_cast<uint32_t>(ticks_at(now_ns)) & kTimerMask;
}

void AcpiPm::read(uint64_t offset, std::span<uint8_t> data) {
  bool evt = overlaps(offset, data.size(), kPm1EvtOffset, kPm1CntOffset);
  bool tmr = overlaps(offset, data.size(), kPmTmrOffset, kSize);
  uint64_t now = evt || tmr ? clock_.now_ns() : 0;  // clock reads are recorded: only when needed
  if (evt) sync_timer_status(now);
  uint32_t timer = tmr ? timer_value(now) : 0;
  std::array<uint8_t, kSize> block = {uint8_t(s_.status),
                                      uint8_t(s_.status >> 8),
                                      uint8_t(s_.enable),
                                      uint8_t(s_.enable >> 8),
                                      uint8_t(s_.control),
                                      uint8_t(s_.control >> 8),
                                      0,
                                      0,
                                      uint8_t(timer),
                                      uint8_t(timer >> 8),
                                      uint8_t(timer >> 16),
                                      uint8_t(timer >> 24)};
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < kSize ? block[offset + i] : 0xff;
  }
  if (evt) update_sci();  // the read may have found a timer carry
}

void AcpiPm::write(uint64_t offset, std::span<const uint8_t> data) {
  if (overlaps(offset, data.size(), kPm1EvtOffset, kPm1CntOffset)) {
    sync_timer_status(clock_.now_ns());  // a carry before this write is cleared by it
  }
  bool sleep = false;
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t at = offset + i;
    if (at == kPm1CntOffset + 1 && (data[i] & (kSlpEn >> 8))) sleep = true;
    write_byte(at, data[i]);
  }
  update_sci();
  if (sleep) enter_sleep();
}

void AcpiPm::write_byte(uint64_t at, uint8_t v) {
  int shift = 8 * (at & 1);
  auto mask = [&](uint16_t bits) { return static_cast<uint16_t>((v << shift) & bits); };
  auto keep = [&](uint16_t reg) { return static_cast<uint16_t>(reg & ~(0xff << shift)); };
  if (at < 2) {
    s_.status = static_cast<uint16_t>(s_.status & ~mask(kStatusBits));  // write 1 to clear
  } else if (at < 4) {
    s_.enable = static_cast<uint16_t>(keep(s_.enable) | mask(kEnableBits));
  } else if (at < 6) {
    s_.control = static_cast<uint16_t>((s_.control & ~(kControlBits & (0xff << shift))) |
                                       mask(kControlBits));
  } else if (at >= kPmTmrOffset && at < kSize) {
    warn(warn_, "ACPI PM: write of " + hex(v) + " to the read-only PM timer; ignored");
  }
}

void AcpiPm::enter_sleep() {
  int type = (s_.control >> kSlpTypShift) & 7;
  if (type == kSlpTypS3) {
    s_.sleeping = true;
    if (on_sleep_) on_sleep_();
    return;
  }
  if (type != kSlpTypS5) {
    warn(warn_, "ACPI PM: sleep type " + std::to_string(type) +
                    " is not supported (only S3 = " + std::to_string(kSlpTypS3) +
                    " and S5 = " + std::to_string(kSlpTypS5) + "); ignored");
    return;
  }
  s_.powered_off = true;
  if (on_power_off_) on_power_off_();
}

// A fixed event: its status bit is set; asleep, it wakes the machine when
// enabled (the power button always does: 4.8.3.1.1), and WAK_STS says so.
void AcpiPm::wake_event(uint16_t status_bit) {
  s_.status |= status_bit;
  if (s_.sleeping && ((s_.enable & status_bit) || status_bit == kPwrBtn)) {
    s_.sleeping = false;
    s_.status |= kWak;
  }
  update_sci();
}

void AcpiPm::sync_timer_status(uint64_t now) {
  uint64_t carries = ticks_at(now) >> kCarryShift;
  if (carries > s_.carries_seen) s_.status |= kTmr;
  s_.carries_seen = carries;
}

// 4.8.3.1: an SCI is raised while a status bit and its enable bit are both
// set (and SCI_EN routes the events to the SCI rather than SMI).
void AcpiPm::update_sci() {
  bool level = (s_.control & kSciEn) && (s_.status & s_.enable & kEnableBits);
  if (level == s_.sci) return;
  s_.sci = level;
  sci_.set_level(level);
}

std::optional<uint64_t> AcpiPm::next_deadline_ns() const {
  bool armed = (s_.enable & kTmr) && (s_.control & kSciEn) && !(s_.status & kTmr);
  if (!armed) return std::nullopt;
  return ticks_to_ns((s_.carries_seen + 1) << kCarryShift, kTimerHz);
}

void AcpiPm::advance(uint64_t now_ns) {
  sync_timer_status(now_ns);
  update_sci();
}

void AcpiPm::press_power_button() {
  wake_event(kPwrBtn);
}

}  // namespace rrvm
