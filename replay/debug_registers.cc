#include "replay/debug_registers.h"

namespace rrvm {

namespace {
// DR7 LEN encoding (SDM vol. 3B, 18.2.5): 1 byte 00, 2 bytes 01, 8 bytes
// 10, 4 bytes 11.
uint64_t len_bits(unsigned len) {
  switch (len) {
    case 2:
      return 1;
    case 8:
      return 2;
    case 4:
      return 3;
    default:
      return 0;
  }
}
}  // namespace

void UserDebugRegs::set(int slot, uint64_t address, unsigned rw, unsigned len) {
  int dr = slot + 1;
  addr[slot] = address;
  uint64_t field = ((len_bits(len) << 2) | (rw & 3)) << (16 + 4 * dr);
  uint64_t mask = 0xfull << (16 + 4 * dr) | 3ull << (2 * dr);
  dr7 = (dr7 & ~mask) | field | 1ull << (2 * dr);  // Ln
}

std::optional<int> UserDebugRegs::hit(uint64_t dr6) {
  for (int slot = 0; slot < kSlots; ++slot)
    if (dr6 & (2ull << slot)) return slot;
  return std::nullopt;
}

kvm_guest_debug guest_debug(const UserDebugRegs& user, std::optional<uint64_t> landmark,
                            bool single_step) {
  kvm_guest_debug dbg{};
  if (!user.armed() && !landmark && !single_step) return dbg;
  dbg.control = KVM_GUESTDBG_ENABLE;
  if (single_step) dbg.control |= KVM_GUESTDBG_SINGLESTEP;
  if (user.armed() || landmark) dbg.control |= KVM_GUESTDBG_USE_HW_BP;
  for (int slot = 0; slot < UserDebugRegs::kSlots; ++slot)
    dbg.arch.debugreg[slot + 1] = user.addr[slot];
  dbg.arch.debugreg[7] = user.dr7;
  if (landmark) {
    dbg.arch.debugreg[0] = *landmark;
    dbg.arch.debugreg[7] |= 0x1;  // L0, execute, length 1
  }
  return dbg;
}

}  // namespace rrvm
