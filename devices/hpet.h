// IA-PC High Precision Event Timer: one timer block with a 64-bit main
// counter at 100 MHz and three comparators, as QEMU's PC has it.
//
// Reference: IA-PC HPET (High Precision Event Timers) Specification, revision
// 1.0a (Intel, October 2004), section 2.3 "Register Definition & Usage
// Model": the memory map (2.3.1), General Capabilities and ID (GCAP_ID),
// General Configuration (GEN_CONF: ENABLE_CNF, LEG_RT_CNF and the
// LegacyReplacement routing), General Interrupt Status (GINTR_STA), Main
// Counter Value (MAIN_CNT), Timer N Configuration and Capabilities
// (Tn_CONF_CAP), Timer N Comparator Value (Tn_COMPARATOR; 2.3.9.2.1
// non-periodic and 2.3.9.2.2 periodic mode) and Timer N FSB Interrupt Route
// (Tn_FSB_INT_ROUTE). Intel PCH datasheets ("High Precision Event Timer
// Registers") for what the spec leaves open: IOAPIC inputs 20-23 as the
// routing capability, the comparator's upper half zeroed by 32-bit mode.
//
// Time model: nothing ticks. The State holds the main counter as of a Clock
// tick (100 MHz ticks since power-on); the counter, the comparator matches
// since then and the periodic comparators' new values are computed from the
// Clock when a register is accessed or the VMM calls advance(). Every
// computation uses Clock values only, so replay recomputes each read.
//
// Choices:
// - Timer 0 is periodic-capable; timers 1 and 2 are one-shot only. All
//   three are 64-bit and can be put in 32-bit mode.
// - A comparator matches when the counter, counting, reaches its value
//   (the low 32 bits in 32-bit mode); a value the counter has already passed
//   matches only after the counter wraps, as on hardware (QEMU instead fires
//   such a timer at once). A counter write is a jump: it matches nothing.
// - Periodic mode: a comparator write sets the period (the "last value
//   written"); with Tn_VAL_SET_CNF it also sets the comparator, and
//   Tn_VAL_SET_CNF clears itself (QEMU's reading, which Linux's two-write
//   sequence relies on). A period of 0 never moves the comparator.
// - 32-bit one-shot timers also fire when the counter's low 32 bits wrap
//   (2.3.9.2.1: "it will generate another interrupt when the main counter
//   wraps"), as QEMU does.
// - Level-triggered timers set their GINTR_STA bit at a match whether or
//   not Tn_INT_ENB_CNF is set (Tn_INT_ENB_CNF: "the timer will still
//   operate and generate appropriate status bits"); their line is high
//   while the bit, Tn_INT_ENB_CNF and ENABLE_CNF are all set. Edge-triggered
//   timers pulse their line and leave GINTR_STA alone. Two sources on one
//   line are wired-OR: a pulse on a line held high is lost.
// - No FSB delivery (Tn_FSB_INT_DEL_CAP = 0, Tn_FSB_EN_CNF reads 0);
//   Tn_FSB_INT_ROUTE is plain storage.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "devices/clock.h"
#include "devices/io_device.h"
#include "devices/irq_line.h"
#include "devices/timed_device.h"
#include "devices/warn.h"

namespace rrvm {

// IoDevice: MMIO, kMmioSize bytes, map at 0xFED00000. Registers are 64 bits
// wide; the spec allows aligned 32- and 64-bit accesses, and those are what
// guests make (a 32-bit access reads or writes one half). Other widths are
// served as bytes of the 64-bit registers, with a warning. Reserved and
// unimplemented-timer offsets read 0 and ignore writes.
//
// Interrupts: `Wiring` gives the lines the board connects. INT_ROUTE_CAP
// advertises exactly the IOAPIC inputs wired in `ioapic`; LEG_RT_CAP is set
// when both `irq0` and `irq8` are. The 8254's and the RTC's interrupt
// outputs come in through pit_input() and rtc_input() and go on to IRQ0 and
// IRQ8 unless LegacyReplacement routing gives those lines to timers 0 and 1
// (GEN_CONF LEG_RT_CNF), which is how the spec says the 8254 and RTC
// interrupts are kept off them.
class Hpet final : public IoDevice, public TimedDevice {
 public:
  static constexpr uint64_t kMmioSize = 0x400;
  static constexpr int kTimers = 3;
  static constexpr uint64_t kHz = 100'000'000;
  static constexpr uint64_t kNsPerTick = 1'000'000'000 / kHz;
  static constexpr uint32_t kPeriodFs = 10'000'000;  // COUNTER_CLK_PERIOD, as QEMU
  static constexpr int kRoutes = 32;                 // Tn_INT_ROUTE_CNF is 5 bits

  // Register offsets (2.3.1).
  static constexpr uint64_t kGcapId = 0x000, kGenConf = 0x010, kGintrSta = 0x020;
  static constexpr uint64_t kMainCnt = 0x0F0, kTimerBase = 0x100, kTimerStride = 0x20;
  static constexpr uint64_t kTnConfCap = 0x00, kTnComparator = 0x08, kTnFsbRoute = 0x10;
  static constexpr uint64_t timer_reg(int n, uint64_t reg) {
    return kTimerBase + kTimerStride * static_cast<uint64_t>(n) + reg;
  }

  // GCAP_ID fields.
  static constexpr uint64_t kRevId = 1, kCountSizeCap = 1u << 13, kLegRtCap = 1u << 15;
  static constexpr uint64_t kVendorId = 0x8086;
  // GEN_CONF bits.
  static constexpr uint64_t kEnableCnf = 1u << 0, kLegRtCnf = 1u << 1;
  // Tn_CONF_CAP bits.
  static constexpr uint64_t kIntTypeCnf = 1u << 1, kIntEnbCnf = 1u << 2, kTypeCnf = 1u << 3;
  static constexpr uint64_t kPerIntCap = 1u << 4, kSizeCap = 1u << 5, kValSetCnf = 1u << 6;
  static constexpr uint64_t k32ModeCnf = 1u << 8, kFsbEnCnf = 1u << 14, kFsbIntDelCap = 1u << 15;
  static constexpr int kIntRouteShift = 9, kIntRouteCapShift = 32;
  static constexpr uint64_t kIntRouteMask = 0x1fu << kIntRouteShift;

  struct Timer {
    uint64_t config = 0;      // Tn_CONF_CAP's read/write bits (capabilities are added on read)
    uint64_t comparator = 0;  // Tn_COMPARATOR as of State::counter
    uint64_t period = 0;      // the last value written to Tn_COMPARATOR (periodic mode)
    uint64_t fsb_route = 0;   // Tn_FSB_INT_ROUTE
  };

  struct State {
    uint64_t config = 0;        // GEN_CONF
    uint64_t status = 0;        // GINTR_STA
    uint64_t counter = 0;       // MAIN_CNT at counter_tick; held while ENABLE_CNF is 0
    uint64_t counter_tick = 0;  // Clock tick (100 MHz since power-on) the counter is known at
    std::array<Timer, kTimers> timers{};
    uint8_t legacy_inputs = 0;  // levels in: bit 0 the 8254's IRQ0, bit 1 the RTC's IRQ8
    uint64_t lines = 0;         // levels driven: bit n IOAPIC input n, kIrq0Line, kIrq8Line
  };
  static constexpr int kIrq0Line = kRoutes, kIrq8Line = kRoutes + 1;

  struct Wiring {
    IrqLine* irq0 = nullptr;                 // ISA IRQ0 (8259 IRQ0 and IOAPIC input 2 on the PC)
    IrqLine* irq8 = nullptr;                 // ISA IRQ8 (8259 IRQ8 and IOAPIC input 8)
    std::array<IrqLine*, kRoutes> ioapic{};  // IOAPIC input n, where the board wires one
  };

  Hpet(Clock& clock, const Wiring& wiring, WarnFn warn = {});
  Hpet(const Hpet&) = delete;
  Hpet& operator=(const Hpet&) = delete;

  std::string_view name() const override { return "hpet"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  std::string register_name(uint64_t offset) const override;

  // The next comparator match that changes an interrupt line.
  std::optional<uint64_t> next_deadline_ns() const override;
  void advance(uint64_t now_ns) override;

  // What the 8254's and the RTC's interrupt outputs drive.
  IrqLine& pit_input() { return pit_input_; }
  IrqLine& rtc_input() { return rtc_input_; }

  uint64_t capabilities() const;      // GCAP_ID
  uint32_t route_capability() const;  // Tn_INT_ROUTE_CAP (the same for every timer)

  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  class LegacyInput final : public IrqLine {
   public:
    LegacyInput(Hpet& hpet, int bit) : hpet_(hpet), bit_(bit) {}
    void set_level(bool high) override { hpet_.set_legacy_input(bit_, high); }

   private:
    Hpet& hpet_;
    int bit_;
  };

  bool enabled() const { return s_.config & kEnableCnf; }
  bool legacy() const { return s_.config & kLegRtCnf; }
  bool legacy_capable() const { return wiring_.irq0 && wiring_.irq8; }
  uint64_t read_register(uint64_t reg);
  void write_register(uint64_t reg, uint64_t value, uint64_t mask);
  void write_config(uint64_t value);
  void write_counter(uint64_t value, uint64_t mask);
  void write_timer(int n, uint64_t reg, uint64_t value, uint64_t mask);
  void write_timer_config(int n, uint64_t value);
  void write_comparator(int n, uint64_t value, uint64_t mask);
  void check_access(uint64_t offset, size_t size, const char* what);

  void sync_now();
  void sync(uint64_t tick);
  bool run_timer(Timer& t, uint64_t elapsed);
  std::optional<uint64_t> ticks_to_event(const Timer& t) const;
  void fire(int n);
  int output_of(int n) const;
  IrqLine* line(int output) const;
  void update_lines();
  void set_legacy_input(int bit, bool high);

  Clock& clock_;
  Wiring wiring_;
  WarnFn warn_;
  State s_;
  LegacyInput pit_input_{*this, 0};
  LegacyInput rtc_input_{*this, 1};
};

}  // namespace rrvm
