// Motorola MC146818A real-time clock and CMOS RAM, as on the PC (index port
// 0x70, data port 0x71, IRQ8).
//
// Reference: Motorola MC146818A datasheet: "Address Map" (Figure 3), time,
// alarm and calendar formats (Table 3), registers A-D, "Update Cycle",
// periodic interrupt rates (Table 5). PC CMOS layout (IBM AT Technical
// Reference; QEMU hw/rtc/mc146818rtc.c for the memory-size bytes).
//
// Time model: wall time = epoch (seconds since 1970, injected) + Clock time.
// The registers are never ticked: the time, the update-in-progress window and
// the interrupt flags are computed from the Clock when read. Updates happen on
// whole seconds of Clock time since power-on (after a divider reset: 500 ms
// after it is released, per the datasheet).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "devices/clock.h"
#include "devices/io_device.h"
#include "devices/irq_line.h"
#include "devices/timed_device.h"

namespace rrvm {

// IoDevice: 2 ports, map at 0x70 (0x70 index, write-only; 0x71 data).
// IRQ: irq8 carries the chip's IRQ output level (IRQF). The PC input is
// edge-triggered, so a guest gets a new interrupt only after reading register C.
class Rtc146818 final : public IoDevice, public TimedDevice {
 public:
  // The clock and calendar registers in binary, 24-hour form, exactly as
  // last set or updated (a guest may hold an impossible date while SET = 1).
  struct Time {
    uint16_t year = 1970;  // with century
    uint8_t month = 1;     // 1-12
    uint8_t day = 1;       // 1-31
    uint8_t hour = 0;      // 0-23
    uint8_t minute = 0;
    uint8_t second = 0;
    uint8_t dow = 5;  // day of week, 1 = Sunday (1970-01-01 was a Thursday)
  };

  struct State {
    std::array<uint8_t, 128> cmos{};  // RAM; A, B and the alarms live here too
    uint8_t index = 0;
    bool nmi_disabled = false;  // port 0x70 bit 7 (kept, not acted on)
    Time base;                  // the time registers at base_ns
    uint64_t base_ns = 0;
    uint64_t divider_ns = 0;                   // Clock time the divider chain was (re)started
    uint64_t first_update_ns = 1'000'000'000;  // delay from divider start to first update
    uint64_t flags_ns = 0;                     // register C flags are evaluated up to here
    uint8_t reg_c = 0;                         // PF, AF, UF (IRQF is derived)
    bool irq_level = false;
  };

  // The latest wall time the clock can show: 9999-12-31T23:59:59Z (the
  // century byte holds two BCD digits).
  static constexpr int64_t kMaxEpochSeconds = 253402300799;

  // epoch_seconds: wall time at Clock time 0 (e.g. the config's rtc-epoch),
  // clamped to [0, kMaxEpochSeconds].
  Rtc146818(Clock& clock, IrqLine& irq8, int64_t epoch_seconds);

  std::string_view name() const override { return "rtc"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  std::optional<uint64_t> next_deadline_ns() const override;
  void advance(uint64_t now_ns) override;

  // Board set-up: raw CMOS RAM bytes (0x0E-0x7F; other indexes are ignored
  // because they are clock registers).
  void set_cmos(uint8_t index, uint8_t value);
  uint8_t cmos(uint8_t index) const { return s_.cmos[index & 0x7f]; }
  // The PC BIOS memory-size bytes: 0x15/0x16 base memory (KiB), 0x17/0x18 and
  // 0x30/0x31 extended memory above 1 MiB (KiB, at most 65535), 0x34/0x35
  // memory above 16 MiB (64 KiB units), 0x5B-0x5D memory above 4 GiB (64 KiB units).
  void set_memory_size(uint64_t below_4g_bytes, uint64_t above_4g_bytes = 0);

  State save() const { return s_; }
  void restore(const State& s);

 private:
  uint8_t read_data();
  void write_data(uint8_t v);
  uint8_t read_time_reg(int index, uint64_t now) const;
  void write_time_reg(int index, uint8_t v, uint64_t now);
  void write_a(uint8_t v, uint64_t now);
  void write_b(uint8_t v, uint64_t now);
  uint8_t read_c(uint64_t now);

  // Register encodings (BCD or binary per register B DM, 12/24-hour).
  uint8_t encode(int v) const;
  int decode(uint8_t v) const;
  uint8_t encode_hour(int h) const;
  int decode_hour(uint8_t v) const;

  bool divider_running() const;
  bool updating() const;
  uint64_t updates_upto(uint64_t ns) const;
  uint64_t update_time(uint64_t n) const;
  uint64_t updates_since_base(uint64_t now) const;
  int64_t seconds_at(uint64_t now) const;
  Time time_at(uint64_t now) const;
  void rebase(uint64_t now);
  bool uip(uint64_t now) const;
  uint64_t periodic_ticks() const;
  uint64_t periodic_count(uint64_t ns) const;
  std::optional<int64_t> next_alarm(int64_t from) const;
  std::optional<int64_t> next_alarm_in_hour(int64_t hour_start, int64_t from) const;
  bool alarm_matches(int index, int value) const;
  void sync_flags(uint64_t now);
  void update_irq();

  Clock& clock_;
  IrqLine& irq_;
  State s_;
};

}  // namespace rrvm
