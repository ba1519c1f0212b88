// The local APIC of rrvm's single CPU, in xAPIC mode, emulated in userspace
// so that interrupt delivery stays replayable.
//
// Reference: Intel SDM vol. 3A chapter 11 (10 in older editions) "Advanced
// Programmable Interrupt Controller (APIC)": 11.4.1 register map (Table
// 11-1), 11.4.7 APIC state (reset and software disable), 11.5.1 LVT, 11.5.3
// error handling (ESR), 11.5.4 APIC timer, 11.6.1 ICR, 11.6.2 destination
// modes, 11.8 interrupt handling (IRR/ISR/TMR, TPR/PPR, EOI), 11.9 spurious
// interrupt.
//
// Timer clock: the "bus clock" is kBusHz = 1 GHz, as on KVM (its in-kernel
// APIC uses APIC_BUS_CYCLE_NS = 1), so guests calibrating the APIC timer
// against the PIT get the same figure as under KVM's own APIC. The VMM does
// not advertise it through CPUID (leaf 0x15/0x16 stay as KVM reports them).
//
// Not modelled: x2APIC, the TSC-deadline timer mode (bit 18 of the LVT timer
// is reserved), the IA32_APIC_BASE MSR (KVM keeps it; this APIC is always
// hardware-enabled at 0xFEE00000), IPIs to other CPUs (there are none),
// thermal/performance-counter interrupt sources (their LVTs are storage),
// the LINT0/LINT1 pins except LINT0's ExtINT virtual wire (see
// devices/interrupt_arbiter.h).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>

#include "devices/apic_bus.h"
#include "devices/clock.h"
#include "devices/interrupt_controller.h"
#include "devices/io_device.h"
#include "devices/timed_device.h"
#include "devices/warn.h"

namespace rrvm {

// IoDevice: MMIO, kMmioSize bytes, map at 0xFEE00000. Registers are dwords at
// 16-byte-aligned offsets. Non-dword reads get the bytes of the dword;
// non-dword or unaligned writes are ignored; unimplemented registers read 0,
// ignore writes and set ESR bit 7 (Illegal Register Address); all with a warning.
class Lapic final : public IoDevice,
                    public TimedDevice,
                    public InterruptController,
                    public ApicMessageSink {
 public:
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint64_t kBusHz = 1'000'000'000;
  // Version 14h (integrated xAPIC), max LVT entry 5 (six LVTs), no EOI-broadcast suppression.
  static constexpr uint32_t kVersion = 0x00050014;

  // LVT entries in register order (0x320 + 0x10 * index).
  enum Lvt { kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kLvtCount };

  struct State {
    uint8_t id = 0;  // APIC ID, bits 31:24 of register 0x20
    uint8_t tpr = 0;
    uint32_t ldr = 0;
    uint32_t dfr = 0xffffffff;
    uint32_t svr = 0xff;  // reset: vector FFh, software-disabled
    std::array<uint32_t, 8> isr{};
    std::array<uint32_t, 8> tmr{};
    std::array<uint32_t, 8> irr{};
    uint32_t esr = 0;          // errors latched by the last ESR write (readable)
    uint32_t esr_pending = 0;  // errors seen since
    uint32_t icr_low = 0;
    uint32_t icr_high = 0;
    std::array<uint32_t, kLvtCount> lvt{};  // reset: all masked (constructor)
    uint32_t initial_count = 0;
    uint32_t divide_config = 0;
    // Timer: counting started at timer_start_ns with `timer_first` counts to
    // the first expiry, then `initial_count` per period (periodic mode).
    bool timer_armed = false;
    uint64_t timer_start_ns = 0;
    uint64_t timer_first = 0;
    uint64_t timer_expired = 0;  // expiries already processed since timer_start_ns
    bool nmi_pending = false;
  };

  explicit Lapic(Clock& clock, uint8_t apic_id = 0, WarnFn warn = {});
  Lapic(const Lapic&) = delete;
  Lapic& operator=(const Lapic&) = delete;

  // IoDevice
  std::string_view name() const override { return "lapic"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // TimedDevice: the next timer expiry while the timer LVT is unmasked.
  std::optional<uint64_t> next_deadline_ns() const override;
  void advance(uint64_t now_ns) override;

  // InterruptController (11.8.3-11.8.4): an IRR vector is deliverable when its
  // priority class exceeds PPR's. acknowledge() moves it from IRR to ISR; if
  // IRR holds only blocked vectors it returns the spurious vector (SVR 7:0)
  // without touching ISR (11.9); nullopt if IRR is empty.
  bool has_interrupt() const override;
  std::optional<uint8_t> acknowledge() override;

  // ApicMessageSink: messages from the IOAPIC (and self-IPIs).
  bool is_destination(uint8_t destination, bool logical) const override;
  bool accept_interrupt(uint8_t vector, bool level_triggered) override;
  void accept_nmi() override { s_.nmi_pending = true; }

  // Called on EOI of a vector whose TMR bit is set (a level-triggered
  // interrupt): the EOI message to the IOAPIC (wire to Ioapic::eoi).
  void set_eoi_broadcast(std::function<void(uint8_t vector)> fn) { on_eoi_ = std::move(fn); }

  // SVR bit 8. While clear, every LVT is masked and fixed interrupts are refused.
  bool software_enabled() const;
  // LINT0 programmed as an unmasked ExtINT input: the 8259's INTR reaches the
  // CPU through the APIC (virtual wire mode, MP spec 1.4, 3.6.2.2).
  bool lint0_extint() const;
  // An NMI is waiting for the VMM to inject (KVM_NMI); clears it.
  bool take_nmi();

  // TPR, for the VMM's CR8 mirror: in 64-bit mode MOV CR8 writes TPR[7:4]
  // without an MMIO exit; KVM reports CR8 in kvm_run, so the VMM copies
  // cr8 << 4 here at each exit and tpr() >> 4 back when it changed.
  uint8_t tpr() const { return s_.tpr; }
  void set_tpr(uint8_t v) { s_.tpr = v; }
  uint8_t ppr() const;

  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  uint32_t read_register(uint32_t reg);
  std::optional<uint32_t> read_scalar(uint32_t reg);
  void write_register(uint32_t reg, uint32_t v);
  bool write_lvt_or_timer(uint32_t reg, uint32_t v);
  void write_svr(uint32_t v);
  void write_lvt(int index, uint32_t v);
  void write_esr();
  void eoi();
  void send_ipi();
  void illegal_register(uint32_t reg, const char* what);
  void signal_error(uint32_t bit);
  bool accept(uint8_t vector, bool level);

  // Timer (11.5.4), computed from the Clock.
  uint32_t divisor() const;
  bool periodic() const;
  uint64_t counts_at(uint64_t now) const;
  uint64_t expiries_at(uint64_t now) const;
  uint32_t current_count(uint64_t now) const;
  uint64_t expiry_ns(uint64_t k) const;
  uint64_t timer_now() const;
  void sync_timer(uint64_t now);
  void restart_timer(uint64_t now, uint64_t first);

  Clock& clock_;
  WarnFn warn_;
  std::function<void(uint8_t)> on_eoi_;
  State s_;
};

}  // namespace rrvm
