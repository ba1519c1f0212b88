#include "vmm/cpu_dump.h"

#include <array>
#include <cstdio>

#include "devices/guest_memory.h"
#include "vmm/page_walk.h"
#include "vmm/run_result.h"

namespace rrvm {

const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::kGuestExit:
      return "guest exit";
    case StopReason::kPowerOff:
      return "power off";
    case StopReason::kTripleFault:
      return "triple fault";
    case StopReason::kEmulationFailure:
      return "emulation failure";
    case StopReason::kEntryFailure:
      return "VM entry failure";
    case StopReason::kHaltedForever:
      return "halted with interrupts disabled";
    case StopReason::kUnmappedAccess:
      return "access to unmapped I/O";
    case StopReason::kTimeout:
      return "timeout";
    case StopReason::kInterrupted:
      return "interrupted";
    case StopReason::kDiverged:
      return "diverged";
    case StopReason::kEndOfTrace:
      return "end of trace";
    case StopReason::kPaused:
      return "paused";
    case StopReason::kBreakpoint:
      return "breakpoint";
  }
  return "?";
}

std::string format_registers(const kvm_regs& r, const kvm_sregs& s) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "  rip %016llx  rflags %08llx\n"
                "  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n"
                "  rsi %016llx  rdi %016llx  rbp %016llx  rsp %016llx\n"
                "  r8  %016llx  r9  %016llx  r10 %016llx  r11 %016llx\n"
                "  r12 %016llx  r13 %016llx  r14 %016llx  r15 %016llx\n"
                "  cs %04x (l=%d db=%d dpl=%d)  ss %04x  cr0 %08llx cr2 %016llx cr3 %016llx "
                "cr4 %08llx efer %llx\n"
                "  idt base %016llx limit %04x  gdt base %016llx limit %04x\n",
                (unsigned long long)r.rip, (unsigned long long)r.rflags, (unsigned long long)r.rax,
                (unsigned long long)r.rbx, (unsigned long long)r.rcx, (unsigned long long)r.rdx,
                (unsigned long long)r.rsi, (unsigned long long)r.rdi, (unsigned long long)r.rbp,
                (unsigned long long)r.rsp, (unsigned long long)r.r8, (unsigned long long)r.r9,
                (unsigned long long)r.r10, (unsigned long long)r.r11, (unsigned long long)r.r12,
                (unsigned long long)r.r13, (unsigned long long)r.r14, (unsigned long long)r.r15,
                s.cs.selector, s.cs.l, s.cs.db, s.cs.dpl, s.ss.selector, (unsigned long long)s.cr0,
                (unsigned long long)s.cr2, (unsigned long long)s.cr3, (unsigned long long)s.cr4,
                (unsigned long long)s.efer, (unsigned long long)s.idt.base, s.idt.limit,
                (unsigned long long)s.gdt.base, s.gdt.limit);
  return buf;
}

std::optional<size_t> read_guest_code(const Vcpu& vcpu, const GuestMemory& mem, uint64_t va,
                                      std::span<uint8_t> out) {
  uint64_t gpa = 0;
  if (!translate_address(vcpu, mem, va, &gpa)) return std::nullopt;
  size_t n = out.size();
  while (n > 0 && !mem.read(gpa, out.first(n))) --n;
  return n;
}

std::string format_code_at_rip(const Vcpu& vcpu, const GuestMemory& mem, uint64_t rip) {
  char head[64];
  std::snprintf(head, sizeof head, "code at rip 0x%llx:", (unsigned long long)rip);
  std::array<uint8_t, 16> bytes{};
  std::optional<size_t> got = read_guest_code(vcpu, mem, rip, bytes);
  if (!got) return std::string(head) + " (not mapped)";
  size_t n = *got;
  if (n == 0) return std::string(head) + " (outside guest RAM)";
  std::string out = head;
  for (size_t i = 0; i < n; ++i) {
    char b[4];
    std::snprintf(b, sizeof b, " %02x", bytes[i]);
    out += b;
  }
  return out;
}

}  // namespace rrvm
