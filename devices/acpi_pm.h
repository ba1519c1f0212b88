// ACPI fixed-hardware power management registers of a PIIX4-like chipset:
// the PM1a event block (PM1_STS, PM1_EN), the PM1a control block (PM1_CNT)
// and the power management timer.
//
// Reference: ACPI Specification 6.5, 4.8.1 "Fixed Hardware Features"
// (4.8.1.1 power management timer, 4.8.1.2 power button), 4.8.3
// "PM1 Event Grouping" (Tables 4.14 PM1 Status, 4.15 PM1 Enable, write-1-to-
// clear status), 4.8.3.2 "PM1 Control Grouping" (Table 4.16: SCI_EN,
// SLP_TYP, SLP_EN), 4.8.3.3 "Power Management Timer (PM_TMR)"; 16.1.4
// "\_Sx" sleep-type objects. Intel 82371AB (PIIX4) datasheet, "Power
// Management I/O Space" for the block layout and SUS_TYP encoding.
//
// Sleep types: SLP_TYP 0 is S5 (soft off), the PIIX4's "000 = soft off"
// encoding and what QEMU's PIIX4 PM and its DSDT (\_S5 = {0, 0, 0, 0}) use.
// The firmware's DSDT must give \_S5 SLP_TYPa = kSlpTypS5. SLP_TYP 1 is S3
// (suspend to RAM), QEMU's \_S3 = {1, 1, 0, 0}: the block sleeps until a
// wake event (4.8.3.1.1, 16.1.5): an enabled status bit set while asleep
// (RTC_STS with RTC_EN: the RTC's interrupt, which the PIIX4 also routes
// here) or the power button; waking sets WAK_STS. What the CPU does
// meanwhile is the machine's (`on_sleep`). Other sleep types (S1, S2, S4)
// are not supported: the write is ignored with a warning.
//
// SCI_EN is set at reset: the machine has no SMM and no BIOS to switch to
// ACPI mode, so the FADT must give SMI_CMD = 0 (ACPI 5.2.9: the platform is
// always in ACPI mode). The PM timer is 24 bits (FADT TMR_VAL_EXT = 0) and
// counts from 0 at Clock time 0.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "devices/clock.h"
#include "devices/io_device.h"
#include "devices/irq_line.h"
#include "devices/timed_device.h"
#include "devices/warn.h"

namespace rrvm {

// IoDevice: kSize (12) ports, one block laid out as on the PIIX4 (QEMU maps
// it at 0x600). The FADT gives PM1a_EVT_BLK = base + kPm1EvtOffset (length
// 4), PM1a_CNT_BLK = base + kPm1CntOffset (length 2), PM_TMR_BLK = base +
// kPmTmrOffset (length 4). Any access width works; bytes 6-7 are reserved
// (read 0), bytes past the block read all-ones.
//
// IRQ: `sci` carries the SCI level (active high, level-triggered; ISA IRQ 9
// on the PC, declared level/high in the MADT override and the FADT SCI_INT).
// Power-off: `on_power_off` is called when the guest enters S5.
// Suspend: `on_sleep` is called when the guest enters S3 (sleeping() then
// holds until a wake event).
class AcpiPm final : public IoDevice, public TimedDevice {
 public:
  static constexpr uint64_t kTimerHz = 3'579'545;
  static constexpr uint64_t kSize = 12;
  static constexpr uint64_t kPm1EvtOffset = 0, kPm1CntOffset = 4, kPmTmrOffset = 8;
  static constexpr uint8_t kSlpTypS5 = 0, kSlpTypS3 = 1;

  // PM1_STS / PM1_EN bits (Tables 4.14, 4.15).
  static constexpr uint16_t kTmr = 1u << 0, kGbl = 1u << 5, kPwrBtn = 1u << 8;
  static constexpr uint16_t kSlpBtn = 1u << 9, kRtc = 1u << 10, kWak = 1u << 15;
  // PM1_CNT bits (Table 4.16).
  static constexpr uint16_t kSciEn = 1u << 0, kSlpEn = 1u << 13;
  static constexpr int kSlpTypShift = 10;

  struct State {
    uint16_t status = 0;        // PM1_STS
    uint16_t enable = 0;        // PM1_EN
    uint16_t control = kSciEn;  // PM1_CNT (SLP_EN never stored)
    uint64_t carries_seen = 0;  // PM timer bit-23 transitions already folded into TMR_STS
    bool sci = false;           // level last driven on the SCI line
    bool powered_off = false;   // the guest entered S5
    bool sleeping = false;      // in S3, until a wake event
    bool rtc_level = false;     // the RTC's interrupt output, last seen
  };

  AcpiPm(Clock& clock, IrqLine& sci, std::function<void()> on_power_off, WarnFn warn = {},
         std::function<void()> on_sleep = {});

  std::string_view name() const override { return "acpi-pm"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // The next TMR_STS event that would raise an SCI (TMR_EN and SCI_EN set).
  std::optional<uint64_t> next_deadline_ns() const override;
  void advance(uint64_t now_ns) override;

  // The fixed power button (4.8.1.2.1): sets PWRBTN_STS (SCI if PWRBTN_EN)
  // and wakes a sleeping machine. A VMM input, delivered at an exit like
  // any other.
  void press_power_button();
  // The RTC's interrupt output (IRQ8): its rising edge sets RTC_STS
  // (Table 4.14), which wakes the machine from S3 when RTC_EN is set.
  IrqLine& rtc_input() { return rtc_input_; }

  // The 24-bit PM timer value at Clock time `now_ns`.
  static uint32_t timer_value(uint64_t now_ns);
  bool powered_off() const { return s_.powered_off; }
  bool sleeping() const { return s_.sleeping; }

  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  void sync_timer_status(uint64_t now);
  void write_byte(uint64_t at, uint8_t v);
  void enter_sleep();
  void wake_event(uint16_t status_bit);
  void update_sci();

  Clock& clock_;
  IrqLine& sci_;
  std::function<void()> on_power_off_;
  WarnFn warn_;
  std::function<void()> on_sleep_;
  FunctionIrqLine rtc_input_;
  State s_;
};

}  // namespace rrvm
