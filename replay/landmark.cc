#include "replay/landmark.h"

#include <xxhash.h>

#include <cstdio>
#include <cstring>

#include "vmm/x86_arch.h"

namespace rrvm {

namespace {
constexpr const char* kGprNames[16] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
                                       "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
}  // namespace

RegisterSnapshot RegisterSnapshot::from(const kvm_regs& r) {
  RegisterSnapshot s;
  s.gpr = {r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rsp, r.rbp,
           r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15};
  s.rip = r.rip;
  s.rflags = r.rflags;
  return s;
}

RegisterSnapshot RegisterSnapshot::from(const trace::LandmarkData& lm) {
  RegisterSnapshot s;
  s.gpr = lm.gprs;  // both in struct kvm_regs order
  s.rip = lm.rip;
  s.rflags = lm.rflags;
  return s;
}

trace::LandmarkData landmark_here(Vcpu& vcpu, uint64_t mem_digest) {
  RegisterSnapshot regs = RegisterSnapshot::from(vcpu.get_regs());
  trace::LandmarkData lm;
  lm.rip = regs.rip;
  lm.gprs = regs.gpr;
  lm.rflags = regs.rflags;
  lm.mem_digest = mem_digest;
  lm.cpl = static_cast<uint8_t>(vcpu.get_sregs().cs.selector & 3);
  return lm;
}

bool RegisterSnapshot::same_state(const RegisterSnapshot& o) const {
  return gpr == o.gpr && rip == o.rip && (rflags & ~kRflagsRf) == (o.rflags & ~kRflagsRf);
}

uint64_t RegisterSnapshot::digest() const {
  uint64_t buf[18];
  std::memcpy(buf, gpr.data(), sizeof(uint64_t) * 16);
  buf[16] = rip;
  buf[17] = rflags & ~kRflagsRf;
  return XXH3_64bits(buf, sizeof buf);
}

std::string RegisterSnapshot::diff(const RegisterSnapshot& o) const {
  std::string out;
  auto add = [&](const char* name, uint64_t a, uint64_t b) {
    if (a == b) return;
    char line[96];
    std::snprintf(line, sizeof line, "%s%s 0x%llx vs 0x%llx", out.empty() ? "" : ", ", name,
                  (unsigned long long)a, (unsigned long long)b);
    out += line;
  };
  add("rip", rip, o.rip);
  for (int i = 0; i < 16; ++i) add(kGprNames[i], gpr[i], o.gpr[i]);
  add("rflags", rflags & ~kRflagsRf, o.rflags & ~kRflagsRf);
  return out.empty() ? "registers equal" : out;
}

void LandmarkSeeker::arm(uint64_t rip) {
  vcpu_.set_guest_debug(guest_debug(user_ ? *user_ : UserDebugRegs{}, rip, false));
}

void LandmarkSeeker::disarm() {
  kvm_guest_debug dbg{};
  vcpu_.set_guest_debug(dbg);
}

bool LandmarkSeeker::matches(const trace::LandmarkData& lm) {
  if (!RegisterSnapshot::from(vcpu_.get_regs()).same_state(RegisterSnapshot::from(lm)))
    return false;
  ++stats_.register_matches;
  // Registers alone are ambiguous in a loop that counts in memory; the pages
  // written since the last sync point settle it.
  return dirty_.digest() == lm.mem_digest;
}

// RFLAGS.RF is not honoured on this class of host, so a hit would repeat:
// disarm, execute the one instruction, re-arm.
SeekOutcome LandmarkSeeker::step_over() {
  vcpu_.set_guest_debug(guest_debug(user_ ? *user_ : UserDebugRegs{}, std::nullopt, true));
  ++stats_.steps;
  bool ran = vcpu_.run();
  disarm();
  if (!ran) return SeekOutcome::kInterrupted;  // seek() again redoes this step
  uint32_t reason = vcpu_.run_area()->exit_reason;
  if (reason == KVM_EXIT_DEBUG) {  // "stepped", not the landmark
    if (UserDebugRegs::hit(vcpu_.run_area()->debug.arch.dr6)) return SeekOutcome::kUserBreakpoint;
    return SeekOutcome::kReached;
  }
  if (reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO || reason == KVM_EXIT_HLT) {
    return SeekOutcome::kNaturalExit;
  }
  return SeekOutcome::kGuestError;
}

bool LandmarkSeeker::stands_on(const trace::LandmarkData& lm) {
  return vcpu_.get_regs().rip == lm.rip && matches(lm);
}

SeekOutcome LandmarkSeeker::seek(const trace::LandmarkData& lm) {
  // The vCPU may already stand on the landmark (kicked right at an exit).
  if (stands_on(lm)) return SeekOutcome::kReached;
  for (;;) {
    arm(lm.rip);
    bool ran = vcpu_.run();
    disarm();
    if (!ran) return SeekOutcome::kInterrupted;
    uint32_t reason = vcpu_.run_area()->exit_reason;
    if (reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO || reason == KVM_EXIT_HLT) {
      return SeekOutcome::kNaturalExit;
    }
    if (reason != KVM_EXIT_DEBUG) return SeekOutcome::kGuestError;
    // A debugger's breakpoint first: the landmark (maybe at the same
    // instruction) is sought again when replay goes on.
    if (UserDebugRegs::hit(vcpu_.run_area()->debug.arch.dr6)) return SeekOutcome::kUserBreakpoint;
    ++stats_.hits;
    if (matches(lm)) return SeekOutcome::kReached;
    SeekOutcome o = step_over();
    if (o != SeekOutcome::kReached) return o;
  }
}

}  // namespace rrvm
