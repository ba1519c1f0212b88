// Thin RAII wrapper over the KVM API: the system fd, a VM and its vCPU.
// Everything here is host-specific; nothing here knows about devices.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "vmm/vcpu.h"

namespace rrvm {

// A KVM call failed. `message` names the call and the errno text.
class KvmError : public std::runtime_error {
 public:
  KvmError(const std::string& what, int err);
  int error() const { return err_; }

 private:
  int err_;
};

// /dev/kvm is missing, not permitted, or lacks a capability rrvm needs. The
// message says how to fix it.
class KvmUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

class Kvm {
 public:
  // Opens /dev/kvm (or `path`) and checks the API version and every
  // capability rrvm relies on; throws KvmUnavailable naming what is missing.
  explicit Kvm(const std::string& path = "/dev/kvm");
  int fd() const { return fd_.get(); }
  int check_extension(long cap) const;
  int vcpu_mmap_size() const;
  std::vector<CpuidEntry> supported_cpuid() const;
  // Capabilities checked at start-up, for the trace header's host facts.
  static const std::vector<std::pair<long, const char*>>& required_caps();

 private:
  Fd fd_;
};

class KvmVm {
 public:
  explicit KvmVm(const Kvm& kvm);
  int fd() const { return fd_.get(); }
  void set_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host, bool log_dirty);
  // Fills `bitmap` (one bit per 4 KiB page of the slot) and clears KVM's
  // copy. Only the RAM's DirtyLog (vmm/dirty_log.h) calls this: a second
  // reader would take pages away from the other consumers.
  void get_dirty_log(uint32_t slot, std::span<uint64_t> bitmap);
  // KVM_ENABLE_CAP on the VM (e.g. KVM_CAP_X86_USER_SPACE_MSR).
  void enable_cap(uint32_t cap, uint64_t arg0);
  // KVM_X86_SET_MSR_FILTER: RDMSR and WRMSR of the MSRs in each
  // [first, first + count) exit to userspace (with KVM_CAP_X86_USER_SPACE_MSR's
  // KVM_MSR_EXIT_REASON_FILTER); all others stay KVM's. At most 16 ranges.
  void deny_msrs(std::span<const std::pair<uint32_t, uint32_t>> ranges);

 private:
  Fd fd_;
};

// The vCPU that runs guests: the Vcpu interface over a KVM vCPU fd and
// its mmapped run area.
class KvmVcpu final : public Vcpu {
 public:
  KvmVcpu(const Kvm& kvm, const KvmVm& vm, int id);
  ~KvmVcpu() override;
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;

  int fd() const { return fd_.get(); }
  kvm_run* run_area() const override { return run_; }

  // KVM_RUN: EINTR (a signal, or immediate_exit set) returns false.
  bool run() override;

  // KVM_CAP_SYNC_REGS (api.rst, kvm_run's kvm_valid_regs): KVM copies the
  // registers, special registers and pending events into the run area as
  // KVM_RUN returns, and get_regs()/get_sregs()/get_events() read that copy
  // instead of making an ioctl (one costs ~6 us on nested KVM, as much as
  // a single-stepped instruction) until anything is set on the vCPU: every
  // setter, and a KVM_RUN that failed, drops the copy. No-op (the ioctls
  // stay) where KVM lacks the capability.
  void sync_registers(bool on);
  // The copy in the run area is current: the getters above cost no ioctl.
  bool registers_synced() const override { return synced_; }

  kvm_regs get_regs() const override;
  void set_regs(const kvm_regs& r) override;
  kvm_sregs get_sregs() const override;
  void set_sregs(const kvm_sregs& s) override;
  kvm_vcpu_events get_events() const override;
  // KVM_SET_VCPU_EVENTS.
  void set_events(const kvm_vcpu_events& e) override;
  void set_cpuid(std::span<const CpuidEntry> entries);
  // The table KVM_SET_CPUID2 gave this vCPU.
  std::vector<CpuidEntry> get_cpuid() const override;
  // Through KVM_GET/SET_XSAVE where KVM has XSAVE, as KVM_GET/SET_FPU do
  // not carry MXCSR and the XMM registers on every host (nested PVM reads
  // back MXCSR 0 and ignores a new one); through KVM_GET/SET_FPU elsewhere.
  FxState get_fx() const override;
  void set_fx(const FxState& fx) override;
  X87State get_x87() const override;
  void set_x87(const X87State& x) override;
  uint64_t get_msr(uint32_t index) const override;
  void set_msr(uint32_t index, uint64_t value) override;
  // KVM_INTERRUPT.
  void interrupt(uint8_t vector) override;
  // KVM_NMI: queue an NMI for the next entry.
  void nmi() override;
  // KVM_TRANSLATE.
  bool translate(uint64_t gva, uint64_t* gpa) const override;
  void set_guest_debug(const kvm_guest_debug& dbg) override;
  // KVM_ENABLE_CAP on this vCPU (e.g. KVM_CAP_ENFORCE_PV_FEATURE_CPUID).
  void enable_cap(uint32_t cap, uint64_t arg0);

  // --- Machine checkpoints (vmm/vcpu_state.h composes these) ---
  kvm_debugregs get_debugregs() const override;
  void set_debugregs(const kvm_debugregs& d) override;
  kvm_xcrs get_xcrs() const override;
  void set_xcrs(const kvm_xcrs& x) override;
  // The 4096-byte KVM_GET_XSAVE region where KVM supports XSAVE, else the
  // bytes of a kvm_fpu. rrvm never grants the process dynamic XSAVE
  // features (arch_prctl), so 4096 bytes hold all of it (KVM_CAP_XSAVE2
  // reports 4096 then).
  std::vector<uint8_t> get_fpu_state() const override;
  void set_fpu_state(std::span<const uint8_t> state) override;
  // KVM_GET/SET_MSRS: KVM processes entries in order and stops at the
  // first it refuses.
  size_t get_msrs(std::span<kvm_msr_entry> entries) const override;
  size_t set_msrs(std::span<const kvm_msr_entry> entries) override;
  // KVM completes a pending exit only at the next KVM_RUN and keeps that
  // pending state where no GET ioctl shows it (api.rst,
  // KVM_CAP_IMMEDIATE_EXIT), so a snapshot must be taken after it. Runs
  // KVM_RUN with immediate_exit set and puts back the kvm_run fields the
  // run loop decides its next entry on (if_flag,
  // ready_for_interrupt_injection, cr8), so the guest's future does not
  // depend on whether a snapshot was taken.
  bool finish_pending_exit() override;

 private:
  Fd fd_;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  bool xsave_ = false;      // KVM_CAP_XSAVE: FPU state through KVM_GET_XSAVE
  uint64_t sync_caps_ = 0;  // KVM_CAP_SYNC_REGS: what KVM can copy out
  bool synced_ = false;     // the run area's copy is the vCPU's state now
};

}  // namespace rrvm
