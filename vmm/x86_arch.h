// Architectural bits of the x86 control registers, EFER and RFLAGS (Intel
// SDM vol. 3A, 2.5 (CR0, CR4), 2.2.1 (EFER), 2.3 (RFLAGS)), in one place
// for every file that reads or builds vCPU state.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

namespace rrvm {

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Mp = 1ull << 1;
constexpr uint64_t kCr0Em = 1ull << 2;
constexpr uint64_t kCr0Ts = 1ull << 3;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;

constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kCr4Osfxsr = 1ull << 9;
constexpr uint64_t kCr4Osxmmexcpt = 1ull << 10;
constexpr uint64_t kCr4La57 = 1ull << 12;
constexpr uint64_t kCr4Fsgsbase = 1ull << 16;
constexpr uint64_t kCr4Osxsave = 1ull << 18;
constexpr uint64_t kCr4Smap = 1ull << 21;
constexpr uint64_t kCr4Pke = 1ull << 22;
constexpr uint64_t kCr4Pks = 1ull << 24;

constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kEferNxe = 1ull << 11;

constexpr uint64_t kRflagsRf = 1ull << 16;
constexpr uint64_t kRflagsVm = 1ull << 17;
constexpr uint64_t kRflagsAc = 1ull << 18;

// 64-bit mode: IA-32e mode active and a code segment with CS.L set
// (SDM vol. 3A, 5.2.1); otherwise compatibility or legacy mode.
inline bool in_64bit_mode(const kvm_sregs& s) {
  return (s.efer & kEferLma) && s.cs.l;
}

}  // namespace rrvm
