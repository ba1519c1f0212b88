// The local APIC's MSR side: IA32_APIC_BASE (SDM vol. 3A 11.4.4, mode
// transitions 11.12.5) and the x2APIC register interface (11.12.1.2, Table
// 11-6). The registers themselves are the xAPIC ones (devices/lapic.cc).
#include <string>

#include "devices/hex.h"
#include "devices/lapic.h"
#include "devices/lapic_registers.h"

namespace rrvm {
namespace {

using namespace lapic_regs;

// IA32_APIC_BASE (Figure 11-5): bits 7:0 and 9 are reserved; the base
// address is bits 12 and up (below MAXPHYADDR).
constexpr uint64_t kApicBaseReservedLow = 0x2ff;
constexpr uint64_t kApicBaseAddress = ~uint64_t{0xfff};

// How software may reach an x2APIC register (Table 11-6).
enum Access { kNoAccess = 0, kRead = 1, kWrite = 2, kReadWrite = 3 };

Access x2apic_access(uint32_t reg) {
  if (reg >= kRegIsr && reg < kRegEsr) return kRead;  // ISR, TMR, IRR
  if (reg >= kRegLvtTimer && reg < kRegLvtEnd) return kReadWrite;
  switch (reg) {
    case kRegId:  // the 32-bit x2APIC ID
    case kRegVersion:
    case kRegPpr:
    case kRegLdr:  // derived from the ID (11.12.10.2)
    case kRegCurrentCount:
      return kRead;
    case kRegTpr:
    case kRegSvr:
    case kRegEsr:
    case kRegIcrLow:  // the whole 64-bit ICR
    case kRegInitialCount:
    case kRegDivide:
      return kReadWrite;
    case kRegEoi:
    case kRegSelfIpi:
      return kWrite;
  }
  // APR, RRD, DFR and the ICR high half do not exist in x2APIC mode; CMCI is
  // not offered (six LVTs); the rest is reserved.
  return kNoAccess;
}

// The mode an IA32_APIC_BASE value selects; nullopt for EN=0, EXTD=1.
std::optional<Lapic::Mode> mode_of(uint64_t base) {
  bool en = base & Lapic::kApicBaseEnable, extd = base & Lapic::kApicBaseExtd;
  if (!en) return extd ? std::nullopt : std::optional(Lapic::Mode::kDisabled);
  return extd ? Lapic::Mode::kX2apic : Lapic::Mode::kXapic;
}

// Figure 11-27: xAPIC -> disabled or x2APIC; x2APIC -> disabled only;
// disabled -> xAPIC only. Staying in a mode (e.g. to move the base) is fine.
bool legal_transition(Lapic::Mode from, Lapic::Mode to) {
  if (from == to || from == Lapic::Mode::kXapic) return true;
  if (from == Lapic::Mode::kX2apic) return to == Lapic::Mode::kDisabled;
  return to == Lapic::Mode::kXapic;
}

const char* mode_name(std::optional<Lapic::Mode> m) {
  if (!m) return "the invalid state (EN=0, EXTD=1)";
  switch (*m) {
    case Lapic::Mode::kDisabled:
      return "disabled";
    case Lapic::Mode::kXapic:
      return "xAPIC mode";
    case Lapic::Mode::kX2apic:
      return "x2APIC mode";
  }
  return "?";
}

}  // namespace

// --- IA32_APIC_BASE -----------------------------------------------------------

// set_apic_base never stores EN=0/EXTD=1; a restored State might: it counts
// as disabled.
Lapic::Mode Lapic::mode() const {
  return mode_of(s_.apic_base).value_or(Mode::kDisabled);
}

std::optional<uint64_t> Lapic::mmio_base() const {
  if (mode() != Mode::kXapic) return std::nullopt;
  return s_.apic_base & kApicBaseAddress;
}

bool Lapic::set_apic_base(uint64_t value) {
  uint64_t reserved = kApicBaseReservedLow | (features_.x2apic ? 0 : kApicBaseExtd);
  if (features_.phys_addr_bits < 64) reserved |= ~uint64_t{0} << features_.phys_addr_bits;
  if (value & reserved) {
    return refuse_msr(kMsrApicBase,
                      "WRMSR of " + hex(value) + " sets reserved bits " + hex(value & reserved));
  }
  Mode from = mode();
  std::optional<Mode> to = mode_of(value);
  if (!to || !legal_transition(from, *to)) {
    return refuse_msr(kMsrApicBase, "WRMSR of " + hex(value) + ": no transition from " +
                                        mode_name(from) + " to " + mode_name(to));
  }
  std::optional<uint64_t> old_page = mmio_base();
  s_.apic_base = value;
  if (*to == Mode::kDisabled && from != Mode::kDisabled) reset_registers();
  if (*to == Mode::kX2apic && from == Mode::kXapic) enter_x2apic();
  if (on_mmio_move_ && mmio_base() != old_page) on_mmio_move_(mmio_base());
  return true;
}

// 11.4.3: clearing EN may lose the APIC's state and return it to its
// power-up state (11.4.7.1); we always do. Kept: IA32_APIC_BASE itself,
// the ID (which returns to the initial ID: 11.12.5.1 keeps the x2APIC ID
// across x2APIC -> disabled, and KVM also resets an ID written in xAPIC
// mode), the NMI already latched for the CPU, and the level on LINT1.
void Lapic::reset_registers() {
  State fresh;
  fresh.id = initial_id_;
  fresh.lvt.fill(kLvtMasked);
  fresh.nmi_pending = s_.nmi_pending;
  fresh.lint1_level = s_.lint1_level;
  fresh.apic_base = s_.apic_base;
  s_ = fresh;
}

// 11.12.5.2: xAPIC -> x2APIC keeps the registers except the ID written
// through MMIO (back to the initial ID), the LDR (now derived) and the
// ICR's destination half.
void Lapic::enter_x2apic() {
  s_.id = initial_id_;
  s_.ldr = x2apic_ldr();
  s_.icr_high = 0;
}

// 11.12.10.2: cluster ID = x2APIC ID[19:4] in LDR[31:16], logical ID =
// 1 << x2APIC ID[3:0] in LDR[15:0].
uint32_t Lapic::x2apic_ldr() const {
  uint32_t id = initial_id_;
  return ((id >> 4) << 16) | (1u << (id & 0xf));
}

// --- x2APIC registers as MSRs ---------------------------------------------------

std::optional<uint64_t> Lapic::read_msr(uint32_t msr) {
  if (msr == kMsrApicBase) return s_.apic_base;
  if (!owns_msr(msr)) {
    refuse_msr(msr, "RDMSR of an MSR the APIC does not have");
    return std::nullopt;
  }
  if (mode() != Mode::kX2apic) {
    refuse_msr(msr, "RDMSR of an x2APIC register outside x2APIC mode");
    return std::nullopt;
  }
  return read_x2apic((msr - kMsrX2apicFirst) << 4);
}

bool Lapic::write_msr(uint32_t msr, uint64_t value) {
  if (msr == kMsrApicBase) return set_apic_base(value);
  if (!owns_msr(msr)) return refuse_msr(msr, "WRMSR of an MSR the APIC does not have");
  if (mode() != Mode::kX2apic) {
    return refuse_msr(msr, "WRMSR of an x2APIC register outside x2APIC mode");
  }
  return write_x2apic((msr - kMsrX2apicFirst) << 4, value);
}

std::optional<uint64_t> Lapic::read_x2apic(uint32_t reg) {
  if (!(x2apic_access(reg) & kRead)) {
    refuse_msr(kMsrX2apicFirst + (reg >> 4), "RDMSR of a write-only or reserved x2APIC register");
    return std::nullopt;
  }
  if (reg == kRegIcrLow) return uint64_t{s_.icr_high} << 32 | s_.icr_low;
  if (reg == kRegId) return initial_id_;
  return read_register(reg);
}

bool Lapic::write_x2apic(uint32_t reg, uint64_t value) {
  uint32_t msr = kMsrX2apicFirst + (reg >> 4);
  if (!(x2apic_access(reg) & kWrite)) {
    return refuse_msr(msr, "WRMSR of a read-only or reserved x2APIC register");
  }
  if (reg == kRegIcrLow) {
    s_.icr_high = static_cast<uint32_t>(value >> 32);
    s_.icr_low = static_cast<uint32_t>(value) & kIcrLowWritable;
    send_ipi();
    return true;
  }
  if (value >> 32) return refuse_msr(msr, "WRMSR of " + hex(value) + ": bits 63:32 are reserved");
  auto v = static_cast<uint32_t>(value);
  if ((reg == kRegEoi || reg == kRegEsr) && v != 0) {
    return refuse_msr(msr, "WRMSR of " + hex(v) + ": EOI and ESR take only 0");
  }
  if (reg == kRegSelfIpi) {
    if (v > 0xff)
      return refuse_msr(msr, "WRMSR of " + hex(v) + ": SELF IPI bits 31:8 are reserved");
    deliver_self(kModeFixed, static_cast<uint8_t>(v), "SELF IPI");  // 11.12.11: fixed, edge
    return true;
  }
  write_register(reg, v);
  return true;
}

bool Lapic::refuse_msr(uint32_t msr, const std::string& why) {
  warn(warn_, "LAPIC: MSR " + hex(msr) + ": " + why + "; #GP");
  return false;
}

}  // namespace rrvm
