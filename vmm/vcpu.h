// What the run loop, the replay engine and machine checkpoints need from a
// virtual CPU. KvmVcpu (vmm/kvm.h) is the one that runs guests; a scripted
// fake (tests/unit/fake_vcpu.h) stands in for it so that the replay engine
// is unit-tested on hosts without a usable /dev/kvm.
//
// The vocabulary is KVM's uapi (kvm_run, kvm_regs, kvm_sregs, ...): the
// engine reads exits from a kvm_run and keeps states in KVM's structs, so
// KvmVcpu passes them through as they are, and a run costs one virtual call
// per entry on top of its ioctl.
#pragma once

#include <linux/kvm.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rrvm {

// One CPUID leaf as KVM_SET_CPUID2 takes it.
using CpuidEntry = kvm_cpuid_entry2;

class Vcpu {
 public:
  virtual ~Vcpu() = default;

  // --- Running ---
  // The exit record of the last run() (port I/O data at io.data_offset
  // bytes from its start), and the fields the next entry reads:
  // request_interrupt_window, immediate_exit, cr8.
  virtual kvm_run* run_area() const = 0;
  // Into the guest until its next exit. False when a signal interrupted
  // it (immediate_exit was set, or set while it ran): the caller handles
  // the kick. Throws on error.
  virtual bool run() = 0;
  // Finishes the instruction of the last I/O or MMIO exit (an IN's value
  // into RAX, RIP past it) without running the guest any further, keeping
  // the run area's if_flag, ready_for_interrupt_injection and cr8 as the
  // exit left them. False when finishing made the next exit instead
  // (string I/O goes on with its next chunk): the run area holds it.
  // Harmless with nothing pending.
  virtual bool finish_pending_exit() = 0;

  // --- Registers ---
  virtual kvm_regs get_regs() const = 0;
  virtual void set_regs(const kvm_regs& r) = 0;
  virtual kvm_sregs get_sregs() const = 0;
  // The getters above read a copy KVM left in the run area, costing no
  // ioctl (KvmVcpu::sync_registers); false where every read is an ioctl.
  virtual bool registers_synced() const { return false; }
  virtual void set_sregs(const kvm_sregs& s) = 0;
  // Pending events: the interrupt or exception going in, the interrupt
  // shadow, NMI masking. Set: start from get_events() and change what must
  // change.
  virtual kvm_vcpu_events get_events() const = 0;
  virtual void set_events(const kvm_vcpu_events& e) = 0;
  // The CPUID table the guest sees.
  virtual std::vector<CpuidEntry> get_cpuid() const = 0;
  // The FXSAVE-format part of the x87/SSE state rrvm's completions use.
  struct FxState {
    uint16_t fsw = 0;  // x87 status word (read only: set_fx leaves it)
    uint32_t mxcsr = 0;
    std::array<std::array<uint8_t, 16>, 16> xmm{};
  };
  virtual FxState get_fx() const = 0;
  virtual void set_fx(const FxState& fx) = 0;
  // The x87 state (FXSAVE layout, vmm/fxsave_image.h), for the x87
  // instructions rrvm completes. Defaults are FNINIT's.
  struct X87State {
    uint16_t fcw = 0x037f, fsw = 0;
    uint8_t ftw = 0;  // abridged tag word: bit i set = physical register i in use
    uint16_t fop = 0;
    uint64_t fip = 0, fdp = 0;
    std::array<std::array<uint8_t, 10>, 8> st{};  // ST0-ST7, 80-bit extended
  };
  virtual X87State get_x87() const = 0;
  virtual void set_x87(const X87State& x) = 0;
  void set_mxcsr(uint32_t mxcsr) {
    FxState fx = get_fx();
    fx.mxcsr = mxcsr;
    set_fx(fx);
  }
  // Throw when the MSR is refused.
  virtual uint64_t get_msr(uint32_t index) const = 0;
  virtual void set_msr(uint32_t index, uint64_t value) = 0;

  // --- Inputs, delivered at the next entry ---
  virtual void interrupt(uint8_t vector) = 0;
  virtual void nmi() = 0;

  // --- Debugging ---
  // Guest-virtual to guest-physical through the current page tables;
  // false if unmapped.
  virtual bool translate(uint64_t gva, uint64_t* gpa) const = 0;
  // Hardware breakpoints (DR0-DR3, DR7) and single-stepping for the next
  // runs; hits end run() with KVM_EXIT_DEBUG and their DR6 bits.
  virtual void set_guest_debug(const kvm_guest_debug& dbg) = 0;

  // --- Machine checkpoints (vmm/vcpu_state.h composes these) ---
  virtual kvm_debugregs get_debugregs() const = 0;
  virtual void set_debugregs(const kvm_debugregs& d) = 0;
  // XCR0 and friends; empty (nr_xcrs 0) without XSAVE support.
  virtual kvm_xcrs get_xcrs() const = 0;
  virtual void set_xcrs(const kvm_xcrs& x) = 0;
  // The x87/SSE/AVX state as one opaque image, put back as it was read.
  virtual std::vector<uint8_t> get_fpu_state() const = 0;
  virtual void set_fpu_state(std::span<const uint8_t> state) = 0;
  // Batched MSR access, in order, stopping at the first refused entry;
  // returns how many were processed.
  virtual size_t get_msrs(std::span<kvm_msr_entry> entries) const = 0;
  virtual size_t set_msrs(std::span<const kvm_msr_entry> entries) = 0;
};

}  // namespace rrvm
