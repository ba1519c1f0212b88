// Register offsets and fields of the local APIC, shared by its xAPIC
// (devices/lapic.cc) and x2APIC (devices/lapic_x2apic.cc) halves. Intel SDM
// vol. 3A chapter 11; internal to the Lapic model.
#pragma once

#include <array>
#include <cstdint>

namespace rrvm::lapic_regs {

// Register offsets (Table 11-1, "Local APIC Register Address Map"). In x2APIC
// mode register `reg` is MSR 0x800 + (reg >> 4) (11.12.1.2, Table 11-6).
constexpr uint32_t kRegId = 0x020, kRegVersion = 0x030, kRegTpr = 0x080, kRegApr = 0x090;
constexpr uint32_t kRegPpr = 0x0a0, kRegEoi = 0x0b0, kRegRrd = 0x0c0, kRegLdr = 0x0d0;
constexpr uint32_t kRegDfr = 0x0e0, kRegSvr = 0x0f0;
constexpr uint32_t kRegIsr = 0x100, kRegTmr = 0x180, kRegIrr = 0x200, kRegEsr = 0x280;
constexpr uint32_t kRegCmci = 0x2f0;  // LVT CMCI: not offered (the version reports six LVTs)
constexpr uint32_t kRegIcrLow = 0x300, kRegIcrHigh = 0x310, kRegLvtTimer = 0x320;
constexpr uint32_t kRegLvtEnd = 0x380;  // LVTs occupy 0x320-0x370
constexpr uint32_t kRegInitialCount = 0x380, kRegCurrentCount = 0x390, kRegDivide = 0x3e0;
constexpr uint32_t kRegSelfIpi = 0x3f0;  // x2APIC only (11.12.11)

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
constexpr std::array<uint32_t, 6> kLvtWritable = {0x000300ff, 0x000107ff, 0x000107ff,
                                                  0x0001a7ff, 0x0001a7ff, 0x000100ff};

// ESR bits (11.5.3, Figure 11-9).
constexpr uint32_t kErrSendIllegalVector = 1u << 5;
constexpr uint32_t kErrReceiveIllegalVector = 1u << 6;
constexpr uint32_t kErrIllegalRegister = 1u << 7;

// ICR (11.6.1, Figure 11-12; x2APIC 11.12.9, Figure 11-28).
constexpr uint32_t kIcrLowWritable = 0x000ccfff;  // delivery status (12) is read-only
constexpr uint32_t kIcrDestLogical = 1u << 11;
constexpr int kIcrShorthandShift = 18;
enum Shorthand { kNoShorthand = 0, kSelf = 1, kAllIncludingSelf = 2, kAllExcludingSelf = 3 };
constexpr uint32_t kHighByte = 0xff000000;

// Vectors 0-15 are reserved for exceptions; an APIC refuses them (11.5.2).
constexpr uint8_t kFirstLegalVector = 16;

}  // namespace rrvm::lapic_regs
