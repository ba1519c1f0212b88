// The single place that decides which interrupt the vCPU takes next.
//
// Two controllers can drive the CPU's interrupt input: the 8259 pair and the
// local APIC (fed by the IOAPIC, its timer and self-IPIs). How the PIC's INTR
// reaches the CPU depends on the APIC's state, as on a PC (MP spec 1.4,
// 3.6.2 "Interrupt Modes"):
//   - LAPIC software-disabled (SVR bit 8 = 0, its reset state, how a PC
//     boots): PIC mode, the 8259's INTR goes straight to the CPU.
//   - LAPIC software-enabled: virtual wire mode (3.6.2.2), the 8259's INTR
//     enters through LINT0 and passes only while LVT LINT0 is unmasked with
//     delivery mode ExtINT; its vector then comes from the 8259's INTA cycle.
// A deliverable LAPIC vector (IRR above PPR) is taken before the PIC: ExtINT
// bypasses the APIC's priority logic (SDM 11.8.1), so the APIC decides first.
// Vectors the LAPIC already holds in IRR stay deliverable after a software
// disable (SDM 11.4.7.2: pending interrupts are held for the CPU).
//
// An APIC disabled through IA32_APIC_BASE (EN=0) is reset with SVR bit 8
// clear, so the 8259 reaches the CPU directly then too (SDM 11.4.3).
//
// Record/replay hooks here: the run loop asks has_interrupt() at an exit,
// requests an interrupt window, and calls acknowledge() at the window exit;
// the recorder logs the returned vector with the exit ordinal, and replay
// checks (or feeds) it at the same ordinal. Nothing else injects interrupts.
#pragma once

#include <cstdint>
#include <optional>

#include "devices/interrupt_controller.h"
#include "devices/lapic.h"

namespace rrvm {

class InterruptArbiter final : public InterruptController {
 public:
  enum class Source { kNone, kLapic, kPic };

  // `pic`: the 8259 pair (devices/pic.h PicPair) or any InterruptController.
  InterruptArbiter(InterruptController& pic, Lapic& lapic) : pic_(pic), lapic_(lapic) {}

  // Which controller the next acknowledge() would take a vector from.
  Source pending_source() const;
  bool has_interrupt() const override { return pending_source() != Source::kNone; }
  // The INTA cycle on the chosen controller; nullopt when nothing is pending.
  std::optional<uint8_t> acknowledge() override;

  // Whether the 8259's INTR currently reaches the CPU (PIC or virtual wire mode).
  bool pic_connected() const;
  // The CPU's NMI input: the one place the VMM asks for an NMI to inject
  // (KVM_NMI). Every NMI source (ICR, IOAPIC NMI entries, LVT LINT1, the
  // LINT1 pin of a disabled APIC) ends in the LAPIC's latch.
  bool nmi_pending() const override { return lapic_.nmi_pending(); }
  bool take_nmi() override { return lapic_.take_nmi(); }

 private:
  InterruptController& pic_;
  Lapic& lapic_;
};

}  // namespace rrvm
