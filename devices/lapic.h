// The local APIC of rrvm's single CPU, emulated in userspace so that
// interrupt delivery stays replayable: xAPIC (MMIO page) and x2APIC (MSR)
// register interfaces, and the IA32_APIC_BASE MSR that switches between them.
//
// Reference: Intel SDM vol. 3A chapter 11 (10 in older editions) "Advanced
// Programmable Interrupt Controller (APIC)": 11.4.1 register map (Table
// 11-1), 11.4.3 enabling/disabling the APIC, 11.4.4 IA32_APIC_BASE (Figure
// 11-5), 11.4.7 APIC state (reset and software disable), 11.5.1 LVT, 11.5.3
// error handling (ESR), 11.5.4 APIC timer, 11.6.1 ICR, 11.6.2 destination
// modes, 11.8 interrupt handling (IRR/ISR/TMR, TPR/PPR, EOI), 11.9 spurious
// interrupt, 11.12 x2APIC (11.12.1.2 MSR map, Table 11-6; 11.12.5 state
// transitions, Figure 11-27; 11.12.10.2 logical destination; 11.12.11 SELF IPI).
//
// Timer clock: the "bus clock" is kBusHz = 1 GHz, as on KVM (its in-kernel
// APIC uses APIC_BUS_CYCLE_NS = 1), so guests calibrating the APIC timer
// against the PIT get the same figure as under KVM's own APIC. The VMM does
// not advertise it through CPUID (leaf 0x15/0x16 stay as KVM reports them).
//
// Modes (11.12.5, IA32_APIC_BASE bits EN and EXTD): xAPIC (EN=1, EXTD=0; the
// MMIO page is decoded at the base address), x2APIC (EN=1, EXTD=1; registers
// are MSRs 0x800-0x8FF, the MMIO page is not decoded) and disabled (EN=0:
// neither; the CPU behaves as one without an APIC, 11.4.3: the 8259's INTR
// reaches it directly and LINT1 is its NMI pin). The board maps the page
// where set_mmio_observer() says.
//
// Not modelled: the TSC-deadline timer mode (bit 18 of the LVT timer is
// reserved), IPIs to other CPUs (there are none), the CMCI LVT (the version
// register reports six LVTs, so MSR 0x82F is reserved), thermal and
// performance-counter interrupt sources (their LVTs are storage), SMI/INIT
// delivery, reserved-bit #GP inside bits 31:0 of x2APIC registers other
// than SELF IPI, ESR and EOI (they are masked, as KVM does), and LINT0 other
// than its ExtINT virtual wire (devices/interrupt_arbiter.h).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "devices/apic_bus.h"
#include "devices/clock.h"
#include "devices/interrupt_controller.h"
#include "devices/io_device.h"
#include "devices/timed_device.h"
#include "devices/warn.h"

namespace rrvm {

// IoDevice: MMIO, kMmioSize bytes, mapped at the base address while in xAPIC
// mode. Registers are dwords at 16-byte-aligned offsets. Non-dword reads get
// the bytes of the dword; non-dword or unaligned writes are ignored;
// unimplemented registers read 0, ignore writes and set ESR bit 7 (Illegal
// Register Address); all with a warning. An access while the page is not
// decoded (x2APIC mode, disabled) reads all-ones and is ignored, with a warning.
//
// The VMM's MSR side (RDMSR/WRMSR exits for IA32_APIC_BASE and 0x800-0x8FF)
// calls read_msr()/write_msr(); a nullopt/false answer means the instruction
// raises #GP(0). Both only ever look at MSRs for which owns_msr() is true.
class Lapic final : public IoDevice,
                    public TimedDevice,
                    public InterruptController,
                    public ApicMessageSink {
 public:
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint64_t kBusHz = 1'000'000'000;
  // Version 14h (integrated xAPIC), max LVT entry 5 (six LVTs), no EOI-broadcast suppression.
  static constexpr uint32_t kVersion = 0x00050014;

  // IA32_APIC_BASE (11.4.4, Figure 11-5): BSP flag 8, x2APIC enable (EXTD)
  // 10, APIC global enable (EN) 11, base address 12..MAXPHYADDR-1.
  static constexpr uint32_t kMsrApicBase = 0x1b;
  static constexpr uint64_t kApicBaseBsp = 1ull << 8;
  static constexpr uint64_t kApicBaseExtd = 1ull << 10;
  static constexpr uint64_t kApicBaseEnable = 1ull << 11;
  static constexpr uint64_t kDefaultBase = 0xfee00000;  // 11.4.1
  // x2APIC register MSRs (11.12.1.2): 0x800 + (xAPIC offset >> 4).
  static constexpr uint32_t kMsrX2apicFirst = 0x800, kMsrX2apicLast = 0x8ff;

  // LVT entries in register order (0x320 + 0x10 * index).
  enum Lvt { kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kLvtCount };
  // 11.12.5: EN/EXTD of IA32_APIC_BASE (EN=0, EXTD=1 is invalid and refused).
  enum class Mode { kDisabled, kXapic, kX2apic };

  // What the CPU model tells software about this APIC, which decides the
  // reserved bits of IA32_APIC_BASE: its base field ends below MAXPHYADDR
  // (CPUID.80000008H:EAX[7:0]; 36 when that leaf is absent), and EXTD is
  // reserved unless CPUID.01H:ECX[21] advertises x2APIC.
  struct CpuFeatures {
    unsigned phys_addr_bits = 36;
    bool x2apic = true;
  };

  struct State {
    uint8_t id = 0;  // APIC ID, bits 31:24 of register 0x20 (xAPIC mode)
    uint8_t tpr = 0;
    uint32_t ldr = 0;  // x2APIC mode: derived from the ID (11.12.10.2), read-only
    uint32_t dfr = 0xffffffff;
    uint32_t svr = 0xff;  // reset: vector FFh, software-disabled
    std::array<uint32_t, 8> isr{};
    std::array<uint32_t, 8> tmr{};
    std::array<uint32_t, 8> irr{};
    uint32_t esr = 0;          // errors latched by the last ESR write (readable)
    uint32_t esr_pending = 0;  // errors seen since
    uint32_t icr_low = 0;
    uint32_t icr_high = 0;  // xAPIC: destination in 31:24; x2APIC: 32-bit destination
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
    bool lint1_level = false;  // the LINT1 pin, for edge detection
    uint64_t apic_base = kDefaultBase | kApicBaseBsp | kApicBaseEnable;  // reset 0xFEE00900
  };

  explicit Lapic(Clock& clock, uint8_t apic_id = 0, WarnFn warn = {});
  Lapic(const Lapic&) = delete;
  Lapic& operator=(const Lapic&) = delete;

  // IoDevice: the xAPIC page.
  std::string_view name() const override { return "lapic"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // --- MSR interface, for the VMM's RDMSR/WRMSR exits --------------------
  // IA32_APIC_BASE and, in x2APIC mode, the x2APIC registers.
  static bool owns_msr(uint32_t msr) {
    return msr == kMsrApicBase || (msr >= kMsrX2apicFirst && msr <= kMsrX2apicLast);
  }
  // RDMSR. nullopt: #GP(0) (an x2APIC MSR outside x2APIC mode, a reserved or
  // write-only register; Table 11-6). ICR (0x830) reads all 64 bits.
  std::optional<uint64_t> read_msr(uint32_t msr);
  // WRMSR. false: #GP(0), nothing changed (outside x2APIC mode, a reserved
  // or read-only register, bits 63:32 set in any register but ICR, a
  // nonzero write to EOI or ESR, SELF IPI bits 31:8 set; IA32_APIC_BASE
  // as set_apic_base()). Writing ICR (0x830) or SELF IPI (0x83F) sends the IPI.
  bool write_msr(uint32_t msr, uint64_t value);

  // IA32_APIC_BASE (11.4.4); reset value 0xFEE00900 (BSP, enabled, xAPIC).
  uint64_t apic_base() const { return s_.apic_base; }
  // WRMSR to IA32_APIC_BASE. Returns false (#GP, nothing changed) for a
  // reserved bit (0-7, 9, MAXPHYADDR and up, EXTD without x2APIC) or an
  // illegal mode transition (Figure 11-27: into EN=0/EXTD=1, x2APIC ->
  // xAPIC, disabled -> x2APIC). Clearing EN resets the APIC to its
  // power-up state (11.4.7.1) except the APIC ID, which returns to the
  // initial ID, and an NMI already latched for the CPU. xAPIC -> x2APIC
  // keeps the registers but the ID, LDR and ICR destination (11.12.5.2).
  // The BSP flag is stored as written, as KVM does.
  bool set_apic_base(uint64_t value);
  Mode mode() const;
  // Where the xAPIC page is decoded: the base address in xAPIC mode, else nullopt.
  std::optional<uint64_t> mmio_base() const;
  // Called whenever mmio_base() may have changed (IA32_APIC_BASE writes,
  // restore()): the board moves or removes the MMIO mapping.
  void set_mmio_observer(std::function<void(std::optional<uint64_t>)> fn) {
    on_mmio_move_ = std::move(fn);
  }
  // From the CPU model (see CpuFeatures); the default matches a CPU with
  // x2APIC and 36 physical address bits.
  void set_cpu_features(const CpuFeatures& f) { features_ = f; }

  // TimedDevice: the next timer expiry while the timer LVT is unmasked.
  std::optional<uint64_t> next_deadline_ns() const override;
  void advance(uint64_t now_ns) override;

  // InterruptController (11.8.3-11.8.4): an IRR vector is deliverable when its
  // priority class exceeds PPR's. acknowledge() moves it from IRR to ISR; if
  // IRR holds only blocked vectors it returns the spurious vector (SVR 7:0)
  // without touching ISR (11.9); nullopt if IRR is empty.
  bool has_interrupt() const override;
  std::optional<uint8_t> acknowledge() override;
  // An NMI is waiting for the VMM to inject (KVM_NMI); take_nmi() clears it.
  // NMIs come from an ICR/self NMI IPI, an IOAPIC entry in NMI mode, LVT
  // LINT1 in NMI mode, or the LINT1 pin of a disabled APIC. Several before
  // the VMM asks are one NMI (the CPU latches one, SDM vol. 3A 6.7.1).
  bool nmi_pending() const override { return s_.nmi_pending; }
  bool take_nmi() override;

  // ApicMessageSink: messages from the IOAPIC (and self-IPIs). A disabled
  // APIC (EN=0) is no destination; in x2APIC mode an 8-bit 0xFF is the
  // broadcast and other destinations compare with the 32-bit x2APIC ID/LDR.
  bool is_destination(uint8_t destination, bool logical) const override;
  bool accept_interrupt(uint8_t vector, bool level_triggered) override;
  void accept_nmi() override { s_.nmi_pending = true; }

  // The LINT1 input pin, a logical level (asserted or not; the polarity bit
  // is stored but does not invert, as for the IOAPIC's inputs). A rising
  // edge delivers per LVT LINT1 (11.5.1): masked -> nothing; NMI -> an NMI;
  // fixed -> its vector, edge-triggered (LINT1 does not support level,
  // 11.5.1 "Trigger Mode"); SMI/INIT/ExtINT -> dropped with a warning.
  // With the APIC disabled (EN=0) LINT1 is the CPU's NMI pin (11.4.3).
  void set_lint1(bool level);

  // Called on EOI of a vector whose TMR bit is set (a level-triggered
  // interrupt): the EOI message to the IOAPIC (wire to Ioapic::eoi).
  void set_eoi_broadcast(std::function<void(uint8_t vector)> fn) { on_eoi_ = std::move(fn); }

  // SVR bit 8. While clear, every LVT is masked and fixed interrupts are refused.
  bool software_enabled() const;
  // LINT0 programmed as an unmasked ExtINT input: the 8259's INTR reaches the
  // CPU through the APIC (virtual wire mode, MP spec 1.4, 3.6.2.2).
  bool lint0_extint() const;

  // TPR, for the VMM's CR8 mirror: in 64-bit mode MOV CR8 writes TPR[7:4]
  // without an MMIO exit; KVM reports CR8 in kvm_run, so the VMM copies
  // cr8 << 4 here at each exit and tpr() >> 4 back when it changed.
  uint8_t tpr() const { return s_.tpr; }
  void set_tpr(uint8_t v) { s_.tpr = v; }
  uint8_t ppr() const;

  State save() const { return s_; }
  // Also tells the MMIO observer where the restored page is decoded.
  void restore(const State& s);

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
  void deliver_self(uint32_t delivery, uint8_t vector, const char* source);
  void illegal_register(uint32_t reg, const char* what);
  void signal_error(uint32_t bit);
  bool accept(uint8_t vector, bool level);
  bool matches(uint32_t destination, bool logical) const;

  // x2APIC and IA32_APIC_BASE (lapic_x2apic.cc).
  std::optional<uint64_t> read_x2apic(uint32_t reg);
  bool write_x2apic(uint32_t reg, uint64_t value);
  bool refuse_msr(uint32_t msr, const std::string& why);
  void reset_registers();
  void enter_x2apic();
  uint32_t x2apic_ldr() const;

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
  uint8_t initial_id_;  // the hardware-assigned APIC ID (also the x2APIC ID)
  WarnFn warn_;
  CpuFeatures features_;
  std::function<void(uint8_t)> on_eoi_;
  std::function<void(std::optional<uint64_t>)> on_mmio_move_;
  State s_;
};

}  // namespace rrvm
