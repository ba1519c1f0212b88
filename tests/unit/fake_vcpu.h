// A scripted vCPU (vmm/vcpu.h) for unit tests of the record/replay engine
// on any host, without /dev/kvm. The guest is a program of pseudo-
// instructions at addresses in guest RAM (FakeProgram): each is a step of
// C++ that changes the registers, writes guest memory or makes an exit.
// The fake runs it with the conventions of KVM that the engine relies on:
//  - Exits: port I/O (kvm_run.io, the data at io.data_offset), MMIO
//    (kvm_run.mmio), HLT (RIP already past it), and KVM_EXIT_SHUTDOWN where
//    RIP leaves the program. An IN's or MMIO read's value reaches RAX, and
//    RIP moves past the I/O or MMIO instruction, only at the next run() or
//    finish_pending_exit(): KVM completes an exit at the next KVM_RUN.
//  - interrupt() and nmi() go in at the next entry, through the 64-bit IDT
//    gate in guest memory (sregs.idt, set_gate()): RIP and RFLAGS are
//    pushed on the guest stack (guest writes), RFLAGS.IF is cleared, and
//    FakeProgram::iret() pops them. An NMI blocks NMIs until that iret. A
//    queued interrupt shows in get_events() as interrupt.injected, as KVM
//    shows one. request_interrupt_window gives KVM_EXIT_IRQ_WINDOW_OPEN
//    as soon as RFLAGS.IF is set. No interrupt shadow, no exceptions.
//  - set_guest_debug(): execution breakpoints in DR0-DR3 (enabled in DR7)
//    stop before the instruction with KVM_EXIT_DEBUG and their DR6 bit;
//    RFLAGS.RF is not honoured (nested PVM hosts ignore it), so entering
//    at an armed address hits again. Single-stepping stops after each
//    instruction with DR6.BS, and at once after completing an exit (as
//    KVM's kvm_skip_emulated_instruction does). No data watchpoints.
//  - Kicks: kick_after(n) makes run() return false (KVM_EXIT_INTR) once n
//    instructions have retired in all, where a host timer would have
//    kicked KVM_RUN. A real Kicker's immediate_exit works as with KVM.
//  - Memory: the guest's writes (store(), interrupt frames) go into the
//    RAM's host pages and into a dirty bitmap that the RAM's DirtyLog
//    fetches and clears, as KVM_GET_DIRTY_LOG does; GuestRam::write is
//    the VMM's. Paging is the identity.
// Everything the guest's future depends on is in what the Vcpu interface
// reads and writes (registers, events, RAM), so machine checkpoints cover
// the fake as they cover a KVM vCPU.
#pragma once

#include <linux/kvm.h>

#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "vmm/fxsave_image.h"
#include "vmm/guest_ram.h"
#include "vmm/host_clock.h"
#include "vmm/vcpu.h"

namespace rrvm::test {

class FakeVcpu;

struct FakeInsn {
  enum class Kind { kOp, kIn, kOut, kMmioRead, kMmioWrite, kHlt, kIret };
  Kind kind = Kind::kOp;
  uint8_t length = 1;
  uint64_t addr = 0;  // port or MMIO address
  uint8_t size = 1;   // bytes accessed; OUT and MMIO writes send RAX's low bytes
  // kOp: what the instruction does, RIP already past it (set RIP to jump).
  std::function<void(FakeVcpu&)> op;
};

// A guest program laid out one instruction after another from `start`
// (at() moves on to another address).
class FakeProgram {
 public:
  using Reg = __u64 kvm_regs::*;
  using K = FakeInsn::Kind;

  explicit FakeProgram(uint64_t start) : next_(start) {}
  uint64_t here() const { return next_; }
  FakeProgram& at(uint64_t addr) {
    next_ = addr;
    return *this;
  }
  FakeProgram& op(std::function<void(FakeVcpu&)> fn) { return put({K::kOp, 3, 0, 0, fn}); }
  FakeProgram& in(uint16_t port, uint8_t size = 1) { return put({K::kIn, 2, port, size, {}}); }
  FakeProgram& out(uint16_t port, uint8_t size = 1) { return put({K::kOut, 2, port, size, {}}); }
  FakeProgram& mmio_read(uint64_t addr, uint8_t size = 4) {
    return put({K::kMmioRead, 6, addr, size, {}});
  }
  FakeProgram& mmio_write(uint64_t addr, uint8_t size = 4) {
    return put({K::kMmioWrite, 6, addr, size, {}});
  }
  FakeProgram& hlt() { return put({K::kHlt, 1, 0, 0, {}}); }
  FakeProgram& iret() { return put({K::kIret, 2, 0, 0, {}}); }
  // Common operations.
  FakeProgram& sti();
  FakeProgram& cli();
  FakeProgram& mov(Reg r, uint64_t value);
  FakeProgram& add(Reg r, uint64_t value);
  FakeProgram& load(Reg r, uint64_t gpa);   // 8 bytes of guest memory
  FakeProgram& store(uint64_t gpa, Reg r);  // 8 bytes, a guest write
  // Jumps to `target` when `cond` holds.
  FakeProgram& jump_if(std::function<bool(FakeVcpu&)> cond, uint64_t target);

  const std::map<uint64_t, FakeInsn>& insns() const { return insns_; }

 private:
  FakeProgram& put(FakeInsn i) {
    uint64_t a = next_;
    next_ += i.length;
    insns_[a] = std::move(i);
    return *this;
  }

  uint64_t next_;
  std::map<uint64_t, FakeInsn> insns_;
};

class FakeVcpu final : public Vcpu {
 public:
  static constexpr uint64_t kDataOffset = 4096;  // port I/O data in the run area, as KVM's
  static constexpr uint64_t kRflagsIf = 1ull << 9;
  static constexpr uint64_t kDr6ActiveLow = 0xffff0ff0;  // DR6's always-one bits
  static constexpr uint64_t kDr6Bs = 1ull << 14;

  // Gives `ram` its dirty log (it must have none yet). The vCPU starts in
  // 64-bit mode with interrupts off and its IDT at `idt`.
  FakeVcpu(GuestRam& ram, uint64_t idt) : ram_(ram), run_buf_(2 * kDataOffset / 8, 0) {
    static_assert(sizeof(kvm_run) <= kDataOffset);
    run_ = reinterpret_cast<kvm_run*>(run_buf_.data());
    for (const auto& r : ram.regions()) dirty_.emplace_back((r.size / 4096 + 63) / 64, 0);
    ram.enable_dirty_log([this](uint32_t slot, std::span<uint64_t> bitmap) {
      std::copy(dirty_[slot].begin(), dirty_[slot].end(), bitmap.begin());
      std::fill(dirty_[slot].begin(), dirty_[slot].end(), 0);
    });
    regs_.rflags = 0x2;
    sregs_.cr0 = 0x80000011;  // PG, ET, PE
    sregs_.efer = 0x500;      // LMA, LME
    sregs_.cs.l = 1;
    sregs_.cs.present = 1;
    sregs_.idt.base = idt;
    sregs_.idt.limit = 0xfff;
    fpu_.assign(512, 0);
    uint16_t fcw = 0x037f;  // FNINIT's control word
    std::memcpy(fpu_.data(), &fcw, 2);
    uint32_t mxcsr = 0x1f80;
    std::memcpy(fpu_.data() + 24, &mxcsr, 4);
  }

  // Writes the program's bytes into RAM (0xF4 at a HLT, as single-stepping
  // reads it; NOPs elsewhere) with GuestRam::write, and runs it from `entry`.
  void install(const FakeProgram& p, uint64_t entry) {
    for (const auto& [addr, insn] : p.insns()) {
      std::vector<uint8_t> bytes(insn.length, insn.kind == FakeInsn::Kind::kHlt ? 0xF4 : 0x90);
      if (!ram_.write(addr, bytes)) throw std::invalid_argument("program outside guest RAM");
      program_[addr] = insn;
    }
    regs_.rip = entry;
  }
  // The 16-byte interrupt gate of `vector` in the IDT (SDM vol. 3A, 6.14.1).
  void set_gate(uint8_t vector, uint64_t handler) {
    uint64_t gate[2] = {
        (handler & 0xffff) | (0x10ull << 16) | (0x8Eull << 40) | ((handler >> 16 & 0xffff) << 48),
        handler >> 32};
    ram_.write(sregs_.idt.base + 16ull * vector, {reinterpret_cast<uint8_t*>(gate), 16});
  }
  void kick_after(uint64_t retired) { kicks_.insert(retired); }

  uint64_t retired() const { return retired_; }
  // The last run() ended at a kick_after() point (not a real signal).
  bool kicked_by_script() const { return kicked_; }
  // Vectors delivered so far (2 for an NMI), in order.
  const std::vector<uint8_t>& delivered() const { return delivered_; }

  // --- For the program's operations ---
  kvm_regs& regs() { return regs_; }
  uint64_t read(uint64_t gpa) const {
    uint64_t v = 0;
    if (!ram_.read(gpa, {reinterpret_cast<uint8_t*>(&v), 8}))
      throw std::out_of_range("guest read outside RAM");
    return v;
  }
  // A write by the guest: logged dirty, unlike GuestRam::write.
  void store(uint64_t gpa, uint64_t value) {
    for (size_t slot = 0; slot < ram_.regions().size(); ++slot) {
      const GuestRam::Region& r = ram_.regions()[slot];
      if (gpa < r.gpa || gpa + 8 > r.gpa + r.size) continue;
      std::memcpy(r.host + (gpa - r.gpa), &value, 8);
      for (uint64_t page : {(gpa - r.gpa) / 4096, (gpa + 7 - r.gpa) / 4096})
        dirty_[slot][page / 64] |= 1ull << (page % 64);
      return;
    }
    throw std::out_of_range("guest write outside RAM");
  }

  // --- Vcpu ---
  kvm_run* run_area() const override { return run_; }

  bool run() override {
    kicked_ = false;
    sregs_.cr8 = run_->cr8;
    if (pending_) {
      complete();
      if (stepping()) return debug_exit(kDr6ActiveLow | kDr6Bs);
    }
    if (immediate_exit()) return interrupted();
    if (window_open()) return exit(KVM_EXIT_IRQ_WINDOW_OPEN);
    deliver();
    for (;;) {
      if (immediate_exit()) return interrupted();
      if (window_open()) return exit(KVM_EXIT_IRQ_WINDOW_OPEN);
      if (std::optional<uint64_t> dr6 = breakpoint(regs_.rip)) return debug_exit(*dr6);
      auto it = program_.find(regs_.rip);
      if (it == program_.end()) return exit(KVM_EXIT_SHUTDOWN);
      if (execute(it->second)) return true;
      ++retired_;
      if (stepping()) return debug_exit(kDr6ActiveLow | kDr6Bs);
      if (kicks_.count(retired_)) {
        kicked_ = true;
        return interrupted();
      }
    }
  }

  bool finish_pending_exit() override {
    const uint8_t if_flag = run_->if_flag, ready = run_->ready_for_interrupt_injection;
    const uint64_t cr8 = run_->cr8;
    if (pending_) {
      complete();
      if (stepping()) return !debug_exit(kDr6ActiveLow | kDr6Bs);
    }
    run_->exit_reason = KVM_EXIT_INTR;
    run_->if_flag = if_flag;
    run_->ready_for_interrupt_injection = ready;
    run_->cr8 = cr8;
    return true;
  }

  kvm_regs get_regs() const override { return regs_; }
  void set_regs(const kvm_regs& r) override { regs_ = r; }
  kvm_sregs get_sregs() const override { return sregs_; }
  void set_sregs(const kvm_sregs& s) override { sregs_ = s; }
  kvm_vcpu_events get_events() const override { return events_; }
  void set_events(const kvm_vcpu_events& e) override { events_ = e; }
  std::vector<CpuidEntry> get_cpuid() const override { return {}; }
  // The FPU image is an FXSAVE area: FSW at byte 2, MXCSR at 24, XMM0-15
  // from 160 (SDM vol. 1, 10.5.1).
  FxState get_fx() const override {
    FxState fx;
    std::memcpy(&fx.fsw, fpu_.data() + 2, sizeof fx.fsw);
    std::memcpy(&fx.mxcsr, fpu_.data() + 24, sizeof fx.mxcsr);
    std::memcpy(fx.xmm.data(), fpu_.data() + 160, sizeof fx.xmm);
    return fx;
  }
  void set_fx(const FxState& fx) override {
    std::memcpy(fpu_.data() + 24, &fx.mxcsr, sizeof fx.mxcsr);
    std::memcpy(fpu_.data() + 160, fx.xmm.data(), sizeof fx.xmm);
  }
  X87State get_x87() const override { return x87_from_fxsave(fpu_); }
  void set_x87(const X87State& x) override { x87_to_fxsave(x, fpu_); }
  uint64_t get_msr(uint32_t index) const override {
    auto it = msrs_.find(index);
    return it == msrs_.end() ? 0 : it->second;
  }
  void set_msr(uint32_t index, uint64_t value) override { msrs_[index] = value; }

  void interrupt(uint8_t vector) override {
    if (events_.interrupt.injected) throw std::logic_error("a second interrupt queued");
    events_.interrupt.injected = 1;
    events_.interrupt.nr = vector;
  }
  void nmi() override { events_.nmi.pending = 1; }

  bool translate(uint64_t gva, uint64_t* gpa) const override {
    *gpa = gva;
    return true;
  }
  void set_guest_debug(const kvm_guest_debug& dbg) override { debug_ = dbg; }

  kvm_debugregs get_debugregs() const override { return debugregs_; }
  void set_debugregs(const kvm_debugregs& d) override { debugregs_ = d; }
  kvm_xcrs get_xcrs() const override { return xcrs_; }
  void set_xcrs(const kvm_xcrs& x) override { xcrs_ = x; }
  std::vector<uint8_t> get_fpu_state() const override { return fpu_; }
  void set_fpu_state(std::span<const uint8_t> state) override {
    if (state.size() != fpu_.size()) throw std::invalid_argument("FPU image of another size");
    fpu_.assign(state.begin(), state.end());
  }
  size_t get_msrs(std::span<kvm_msr_entry> entries) const override {
    for (auto& e : entries) e.data = get_msr(e.index);
    return entries.size();
  }
  size_t set_msrs(std::span<const kvm_msr_entry> entries) override {
    for (const auto& e : entries) msrs_[e.index] = e.data;
    return entries.size();
  }

 private:
  bool immediate_exit() const {
    return static_cast<const volatile uint8_t&>(run_->immediate_exit) != 0;
  }
  // The VMM asked for an exit as soon as the guest can take an interrupt.
  bool window_open() const {
    return run_->request_interrupt_window && (regs_.rflags & kRflagsIf) &&
           !events_.interrupt.injected;
  }
  bool stepping() const {
    return (debug_.control & KVM_GUESTDBG_ENABLE) && (debug_.control & KVM_GUESTDBG_SINGLESTEP);
  }
  // DR6 for an enabled execution breakpoint at `rip` (DR7: L0-L3, R/W 00).
  std::optional<uint64_t> breakpoint(uint64_t rip) const {
    if (!(debug_.control & KVM_GUESTDBG_ENABLE) || !(debug_.control & KVM_GUESTDBG_USE_HW_BP))
      return std::nullopt;
    uint64_t dr7 = debug_.arch.debugreg[7];
    for (int i = 0; i < 4; ++i) {
      bool enabled = dr7 & (3ull << (2 * i));
      bool execute = ((dr7 >> (16 + 4 * i)) & 3) == 0;
      if (enabled && execute && debug_.arch.debugreg[i] == rip) return kDr6ActiveLow | 1ull << i;
    }
    return std::nullopt;
  }

  bool exit(uint32_t reason) {
    run_->exit_reason = reason;
    run_->if_flag = (regs_.rflags & kRflagsIf) ? 1 : 0;
    run_->ready_for_interrupt_injection = run_->if_flag && !events_.interrupt.injected;
    run_->cr8 = sregs_.cr8;
    return true;
  }
  bool interrupted() {
    exit(KVM_EXIT_INTR);
    return false;
  }
  bool debug_exit(uint64_t dr6) {
    run_->debug.arch.dr6 = dr6;
    run_->debug.arch.pc = regs_.rip;
    run_->debug.arch.exception = 1;  // #DB
    return exit(KVM_EXIT_DEBUG);
  }

  // One instruction; true when it made an exit.
  bool execute(const FakeInsn& insn) {
    using K = FakeInsn::Kind;
    uint8_t* data = reinterpret_cast<uint8_t*>(run_) + kDataOffset;
    switch (insn.kind) {
      case K::kOp:
        regs_.rip += insn.length;
        if (insn.op) insn.op(*this);
        return false;
      case K::kIret:
        regs_.rip = read(regs_.rsp);
        regs_.rflags = read(regs_.rsp + 8);
        regs_.rsp += 16;
        events_.nmi.masked = 0;
        return false;
      case K::kHlt:
        regs_.rip += insn.length;
        return exit(KVM_EXIT_HLT);
      case K::kIn:
      case K::kOut:
        run_->io.direction = insn.kind == K::kIn ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
        run_->io.size = insn.size;
        run_->io.port = static_cast<uint16_t>(insn.addr);
        run_->io.count = 1;
        run_->io.data_offset = kDataOffset;
        std::memcpy(data, &regs_.rax, insn.size);
        pending_ = insn;
        return exit(KVM_EXIT_IO);
      case K::kMmioRead:
      case K::kMmioWrite:
        run_->mmio.phys_addr = insn.addr;
        run_->mmio.len = insn.size;
        run_->mmio.is_write = insn.kind == K::kMmioWrite;
        std::memcpy(run_->mmio.data, &regs_.rax, insn.size);
        pending_ = insn;
        return exit(KVM_EXIT_MMIO);
    }
    return false;
  }

  // The second half of an I/O or MMIO exit, at the next entry.
  void complete() {
    using K = FakeInsn::Kind;
    const FakeInsn insn = *pending_;
    pending_.reset();
    const uint8_t* from =
        insn.kind == K::kIn ? reinterpret_cast<uint8_t*>(run_) + kDataOffset : run_->mmio.data;
    if (insn.kind == K::kIn || insn.kind == K::kMmioRead) {
      if (insn.size >= 4) regs_.rax = 0;  // 32-bit destinations zero-extend
      std::memcpy(&regs_.rax, from, insn.size);
    }
    regs_.rip += insn.length;
  }

  void deliver() {
    if (events_.nmi.pending && !events_.nmi.masked) {
      events_.nmi.pending = 0;
      events_.nmi.masked = 1;
      enter_handler(2);
    } else if (events_.interrupt.injected) {
      events_.interrupt.injected = 0;
      enter_handler(events_.interrupt.nr);
    }
  }
  void enter_handler(uint8_t vector) {
    uint8_t gate[16] = {};
    ram_.read(sregs_.idt.base + 16ull * vector, gate);
    uint64_t lo, hi;
    std::memcpy(&lo, gate, 8);
    std::memcpy(&hi, gate + 8, 8);
    regs_.rsp -= 16;
    store(regs_.rsp, regs_.rip);
    store(regs_.rsp + 8, regs_.rflags);
    regs_.rflags &= ~kRflagsIf;
    regs_.rip = (lo & 0xffff) | ((lo >> 48) << 16) | (hi << 32);
    delivered_.push_back(vector);
  }

  GuestRam& ram_;
  std::vector<uint64_t> run_buf_;
  kvm_run* run_ = nullptr;
  std::vector<std::vector<uint64_t>> dirty_;  // per slot: guest writes not fetched yet
  std::map<uint64_t, FakeInsn> program_;
  kvm_regs regs_{};
  kvm_sregs sregs_{};
  kvm_vcpu_events events_{};
  kvm_debugregs debugregs_{};
  kvm_xcrs xcrs_{};
  kvm_guest_debug debug_{};
  std::vector<uint8_t> fpu_;
  std::map<uint32_t, uint64_t> msrs_;
  std::optional<FakeInsn> pending_;  // the I/O or MMIO exit to complete
  std::set<uint64_t> kicks_;
  uint64_t retired_ = 0;
  bool kicked_ = false;
  std::vector<uint8_t> delivered_;
};

inline FakeProgram& FakeProgram::sti() {
  return op([](FakeVcpu& v) { v.regs().rflags |= FakeVcpu::kRflagsIf; });
}
inline FakeProgram& FakeProgram::cli() {
  return op([](FakeVcpu& v) { v.regs().rflags &= ~FakeVcpu::kRflagsIf; });
}
inline FakeProgram& FakeProgram::mov(Reg r, uint64_t value) {
  return op([r, value](FakeVcpu& v) { v.regs().*r = value; });
}
inline FakeProgram& FakeProgram::add(Reg r, uint64_t value) {
  return op([r, value](FakeVcpu& v) { v.regs().*r += value; });
}
inline FakeProgram& FakeProgram::load(Reg r, uint64_t gpa) {
  return op([r, gpa](FakeVcpu& v) { v.regs().*r = v.read(gpa); });
}
inline FakeProgram& FakeProgram::store(uint64_t gpa, Reg r) {
  return op([r, gpa](FakeVcpu& v) { v.store(gpa, v.regs().*r); });
}
inline FakeProgram& FakeProgram::jump_if(std::function<bool(FakeVcpu&)> cond, uint64_t target) {
  return op([cond = std::move(cond), target](FakeVcpu& v) {
    if (cond(v)) v.regs().rip = target;
  });
}

// The run loop's clock for recording on a fake: guest time is the fake's
// retired instructions (kInsnNs each) plus the halts skipped, so a
// recording is the same every time. Stray host kicks leave no trace;
// nothing is scheduled in host time.
class FakeClock final : public LoopClock {
 public:
  static constexpr uint64_t kInsnNs = 1000;
  explicit FakeClock(const FakeVcpu& vcpu) : vcpu_(vcpu) {}
  uint64_t now_ns() override { return static_cast<uint64_t>(int64_t(insn_ns()) + offset_); }
  uint64_t host_time(uint64_t) override { return 0; }
  bool on_kick() override { return vcpu_.kicked_by_script(); }
  bool can_skip() const override { return true; }
  bool skip_to(uint64_t guest_ns) override {
    if (guest_ns > now_ns()) offset_ = int64_t(guest_ns) - int64_t(insn_ns());
    return true;
  }
  void restore(uint64_t guest_ns) override { offset_ = int64_t(guest_ns) - int64_t(insn_ns()); }

 private:
  uint64_t insn_ns() const { return vcpu_.retired() * kInsnNs; }
  const FakeVcpu& vcpu_;
  int64_t offset_ = 0;
};

}  // namespace rrvm::test
