// The debug registers of the replaying vCPU, shared between the landmark
// seeker (DR0) and a debugger's breakpoints and watchpoints (DR1-DR3), so
// that a debugger's breakpoints stay armed while replay seeks a landmark.
// Layout of DR7 and DR6: Intel SDM vol. 3B, 18.2.4 and 18.2.3.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <optional>

namespace rrvm {

// DR6 bits as KVM reports them in kvm_run::debug.arch.dr6.
inline constexpr uint64_t kDr6Landmark = 0x1;           // B0: the seeker's breakpoint
inline constexpr uint64_t kDr6User = 0xe;               // B1-B3: the debugger's
inline constexpr uint64_t kDr6SingleStep = 1ull << 14;  // BS

struct UserDebugRegs {
  static constexpr int kSlots = 3;  // DR1-DR3
  std::array<uint64_t, kSlots> addr{};
  uint64_t dr7 = 0;  // the L1-L3 enables and RW/LEN fields of DR1-DR3 only

  bool armed() const { return dr7 != 0; }
  // Slot 0-2 (DR1-DR3): rw 0 execute, 1 write, 3 read or write; len 1, 2,
  // 4 or 8 bytes (execute: 1).
  void set(int slot, uint64_t address, unsigned rw, unsigned len);
  // The slot whose hit DR6 reports, if any.
  static std::optional<int> hit(uint64_t dr6);
};

// The KVM_SET_GUEST_DEBUG argument for `user`'s registers, the landmark
// breakpoint in DR0 when given, and single-stepping when asked.
kvm_guest_debug guest_debug(const UserDebugRegs& user, std::optional<uint64_t> landmark,
                            bool single_step);

}  // namespace rrvm
