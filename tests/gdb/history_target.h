// A DebugTarget whose execution is a recorded history of a tiny program:
// every state is computed up front by hand-written instruction effects, so
// stepping in either direction is moving an index, and what gdb must show at
// each position is known exactly. Used by the server's unit tests and by
// fake_gdb_target (the real-gdb tests).
//
// The program is a Multiboot-style boot in miniature: it starts in 32-bit
// protected mode, switches to 64-bit long mode with a far jump, counts a
// variable in memory up to 3 in a loop, reads it back and exits through the
// isa-debug-exit port with status (3 << 1) | 1 = 7.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "replay/debug_target.h"

namespace rrvm::testing {

// Guest-virtual = physical here; everything outside [kRamBase, kRamEnd) is
// unmapped.
inline constexpr uint64_t kRamBase = 0x100000;
inline constexpr uint64_t kRamEnd = 0x104000;
inline constexpr uint64_t kEntry = 0x100000;
inline constexpr uint64_t kLongModeEntry = 0x100030;  // first 64-bit instruction
inline constexpr uint64_t kLoop = 0x100039;           // add eax, 1 (runs 3 times)
inline constexpr uint64_t kStore = 0x10003c;          // mov [rbx], eax (writes kCounter)
inline constexpr uint64_t kLoad = 0x100043;           // mov ecx, [rbx] (reads kCounter)
inline constexpr uint64_t kExitInsn = 0x100045;       // out 0xf4, al
inline constexpr uint64_t kCounter = 0x102000;        // 4 bytes, 0 → 1 → 2 → 3
inline constexpr uint64_t kConfig = 0x102008;         // 4 bytes, 0x29, read in 32-bit mode
inline constexpr int kExitStatus = 7;

struct MemoryAccess {
  uint64_t addr;
  uint64_t len;
  bool write;
};

// The machine at one position: before the instruction at regs.rip runs.
struct HistoryState {
  DebugRegisters regs;
  std::vector<uint8_t> ram;            // [kRamBase, kRamEnd)
  std::vector<MemoryAccess> accesses;  // made by the instruction at regs.rip
};

// The CPU while the program runs, with what its instructions need.
struct FakeCpu {
  HistoryState s;
  uint64_t next_rip = 0;  // where the instruction continues; branches set it

  uint32_t load(uint64_t addr) {
    uint32_t v;
    std::memcpy(&v, &s.ram[addr - kRamBase], 4);
    s.accesses.push_back({addr, 4, false});
    return v;
  }
  void store(uint64_t addr, uint32_t v) {
    std::memcpy(&s.ram[addr - kRamBase], &v, 4);
    s.accesses.push_back({addr, 4, true});
  }
  uint32_t eax() const { return static_cast<uint32_t>(s.regs.rax); }
  // Writes eax (zero-extending, as 32-bit results do) and sets ZF from it.
  void set_eax(uint32_t v) {
    s.regs.rax = v;
    s.regs.rflags = (s.regs.rflags & ~0x40ull) | (v == 0 ? 0x40 : 0);
  }
};

struct ProgramInsn {
  uint64_t addr;
  std::vector<uint8_t> bytes;
  const char* text;              // as Capstone prints it (Intel syntax, its own mode)
  void (*effect)(FakeCpu& cpu);  // nullptr: the guest exits here
};

// The program, in address order (hand-assembled; checked with objdump).
inline const std::vector<ProgramInsn>& program() {
  using C = FakeCpu&;
  static const std::vector<ProgramInsn> p = {
      {0x100000,
       {0xbc, 0x00, 0x40, 0x10, 0x00},
       "mov esp, 0x104000",
       [](C c) { c.s.regs.rsp = 0x104000; }},
      {0x100005,
       {0xa1, 0x08, 0x20, 0x10, 0x00},
       "mov eax, dword ptr [0x102008]",
       [](C c) { c.s.regs.rax = c.load(kConfig); }},
      {0x10000a, {0x40}, "inc eax", [](C c) { c.set_eax(c.eax() + 1); }},
      {0x10000b, {0xb8, 0x20, 0x00, 0x00, 0x00}, "mov eax, 0x20", [](C c) { c.s.regs.rax = 0x20; }},
      {0x100010, {0x0f, 0x22, 0xe0}, "mov cr4, eax", [](C c) { c.s.regs.cr4 = c.s.regs.rax; }},
      {0x100013,
       {0xb9, 0x80, 0x00, 0x00, 0xc0},
       "mov ecx, 0xc0000080",
       [](C c) { c.s.regs.rcx = 0xc0000080; }},
      {0x100018,
       {0x0f, 0x32},
       "rdmsr",
       [](C c) {
         c.s.regs.rax = c.s.regs.efer & 0xffffffff;
         c.s.regs.rdx = c.s.regs.efer >> 32;
       }},
      {0x10001a,
       {0x0d, 0x00, 0x01, 0x00, 0x00},
       "or eax, 0x100",
       [](C c) { c.set_eax(c.eax() | 0x100); }},
      {0x10001f,
       {0x0f, 0x30},
       "wrmsr",
       [](C c) { c.s.regs.efer = c.s.regs.rax | c.s.regs.rdx << 32; }},
      {0x100021,
       {0xb8, 0x11, 0x00, 0x00, 0x80},
       "mov eax, 0x80000011",
       [](C c) { c.s.regs.rax = 0x80000011; }},
      {0x100026,
       {0x0f, 0x22, 0xc0},
       "mov cr0, eax",
       [](C c) {
         DebugRegisters& r = c.s.regs;
         r.cr0 = r.rax;
         if ((r.cr0 & 0x80000000) && (r.efer & 0x100)) r.efer |= 0x400;  // PG + LME: LMA
       }},
      {0x100029,
       {0xea, 0x30, 0x00, 0x10, 0x00, 0x08, 0x00},
       "ljmp 8:0x100030",
       [](C c) {
         c.s.regs.cs = 0x08;  // a 64-bit code segment
         c.s.regs.mode = CpuMode::kLong64;
         c.next_rip = kLongModeEntry;
       }},
      {0x100030, {0x31, 0xc0}, "xor eax, eax", [](C c) { c.set_eax(0); }},
      {0x100032,
       {0x48, 0x8d, 0x1d, 0xc7, 0x1f, 0x00, 0x00},
       "lea rbx, [rip + 0x1fc7]",
       [](C c) { c.s.regs.rbx = kCounter; }},
      {0x100039, {0x83, 0xc0, 0x01}, "add eax, 1", [](C c) { c.set_eax(c.eax() + 1); }},
      {0x10003c,
       {0x89, 0x03},
       "mov dword ptr [rbx], eax",
       [](C c) { c.store(c.s.regs.rbx, c.eax()); }},
      {0x10003e,
       {0x83, 0xf8, 0x03},
       "cmp eax, 3",
       [](C c) {
         uint64_t rax = c.s.regs.rax;
         c.set_eax(c.eax() - 3);  // only the flags are kept
         c.s.regs.rax = rax;
       }},
      {0x100041,
       {0x75, 0xf6},
       "jne 0x100039",
       [](C c) { c.next_rip = (c.s.regs.rflags & 0x40) ? kLoad : kLoop; }},
      {0x100043,
       {0x8b, 0x0b},
       "mov ecx, dword ptr [rbx]",
       [](C c) { c.s.regs.rcx = c.load(c.s.regs.rbx); }},
      {0x100045, {0xe6, 0xf4}, "out 0xf4, al", nullptr},
  };
  return p;
}

// The machine at the Multiboot entry.
inline FakeCpu initial_cpu() {
  FakeCpu cpu;
  cpu.s.ram.assign(kRamEnd - kRamBase, 0);
  for (const ProgramInsn& i : program())
    std::memcpy(&cpu.s.ram[i.addr - kRamBase], i.bytes.data(), i.bytes.size());
  uint32_t config = 0x29;
  std::memcpy(&cpu.s.ram[kConfig - kRamBase], &config, 4);
  DebugRegisters& r = cpu.s.regs;
  r.rip = kEntry;
  r.rax = 0x2badb002;  // Multiboot magic, info at ebx
  r.rbx = 0x9500;
  r.cs = 0x10;
  r.ds = r.es = r.ss = 0x18;
  r.cr0 = 0x11;  // PE | ET
  r.mode = CpuMode::kProtected32;
  r.fpu = FpuRegisters{};
  return cpu;
}

// Runs the program once and keeps the state before every instruction.
inline std::vector<HistoryState> build_history() {
  FakeCpu cpu = initial_cpu();
  DebugRegisters& r = cpu.s.regs;
  std::vector<HistoryState> states;
  for (;;) {
    const ProgramInsn* insn = nullptr;
    for (const ProgramInsn& i : program())
      if (i.addr == r.rip) insn = &i;
    cpu.s.accesses.clear();
    HistoryState before = cpu.s;
    if (!insn || !insn->effect) {
      states.push_back(std::move(before));
      return states;
    }
    cpu.next_rip = r.rip + insn->bytes.size();
    insn->effect(cpu);
    r.rip = cpu.next_rip;
    before.accesses = cpu.s.accesses;
    states.push_back(std::move(before));
  }
}

// How the history ends after its last state.
enum class HistoryEnd : uint8_t {
  kExit,       // the exit instruction runs: the guest exits with kExitStatus
  kTruncated,  // the trace ends before it (a recording cut off by SIGKILL)
  kEndless,    // the guest spins there without an exit until interrupted
};

// The DebugTarget over a history.
class HistoryTarget final : public DebugTarget {
 public:
  explicit HistoryTarget(HistoryEnd end = HistoryEnd::kExit)
      : states_(build_history()), end_(end) {}

  size_t position() const { return pos_; }
  size_t length() const { return states_.size(); }
  const HistoryState& state(size_t i) const { return states_.at(i); }
  const std::vector<Breakpoint>& breakpoints() const { return bps_; }
  void seek(size_t pos) { pos_ = pos; }
  // First position at or after `from` whose RIP is `rip`.
  size_t find(uint64_t rip, size_t from = 0) const {
    for (size_t i = from; i < states_.size(); ++i)
      if (states_[i].regs.rip == rip) return i;
    return states_.size();
  }

  DebugRegisters registers() override { return states_[pos_].regs; }

  size_t read_memory(uint64_t addr, std::span<uint8_t> out) override {
    size_t n = 0;
    for (; n < out.size() && addr + n >= kRamBase && addr + n < kRamEnd; ++n)
      out[n] = states_[pos_].ram[addr + n - kRamBase];
    return n;
  }

  bool insert_breakpoint(const Breakpoint& bp, std::string* why) override {
    if (bp.is_watchpoint() && (bp.len == 0 || bp.len > 8)) {
      *why = "watch length " + std::to_string(bp.len) + " (1 to 8 bytes)";
      return false;
    }
    bps_.push_back(bp);
    return true;
  }

  void remove_breakpoint(const Breakpoint& bp) override {
    for (auto it = bps_.begin(); it != bps_.end(); ++it)
      if (*it == bp) {
        bps_.erase(it);
        return;
      }
  }

  StopEvent resume(ResumeKind kind, InterruptCheck& interrupt) override {
    switch (kind) {
      case ResumeKind::kStep:
        return step_forward(false).value_or(StopEvent{});
      case ResumeKind::kReverseStep:
        return step_back(false).value_or(StopEvent{});
      case ResumeKind::kContinue:
        return run(interrupt, [this] { return step_forward(true); });
      case ResumeKind::kReverseContinue:
        return run(interrupt, [this] { return step_back(true); });
    }
    return {};
  }

  std::string monitor(std::string_view command) override {
    if (command == "when")
      return "position " + std::to_string(pos_) + " of " + std::to_string(states_.size()) + "\n";
    if (command == "help") return "when: the position in the fake history\n";
    return "unknown monitor command '" + std::string(command) + "'; try 'monitor help'\n";
  }

 private:
  using Stop = std::optional<StopEvent>;
  using Kind = StopEvent::Kind;

  // One instruction forward; a stop when something reports one. A step
  // reports watchpoints its instruction hit, not breakpoints where it lands;
  // `continuing` (part of a continue) also stops at breakpoints.
  Stop step_forward(bool continuing) {
    if (pos_ + 1 == states_.size()) {
      switch (end_) {
        case HistoryEnd::kExit:
          return StopEvent::exited(kExitStatus);
        case HistoryEnd::kTruncated:
          return StopEvent::of(Kind::kHistoryEnd);
        case HistoryEnd::kEndless:
          return continuing ? std::nullopt : Stop(StopEvent{});
      }
    }
    ++pos_;
    if (Stop w = watch_hit(states_[pos_ - 1])) return w;
    return continuing ? breakpoint_at(states_[pos_].regs.rip) : std::nullopt;
  }

  // One instruction back: the state before the previous one ran.
  Stop step_back(bool continuing) {
    if (pos_ == 0) return StopEvent::of(Kind::kHistoryStart);
    --pos_;
    if (Stop w = watch_hit(states_[pos_])) return w;
    return continuing ? breakpoint_at(states_[pos_].regs.rip) : std::nullopt;
  }

  template <typename Step>
  StopEvent run(InterruptCheck& interrupt, Step step) {
    for (;;) {
      if (Stop s = step()) return *s;
      if (interrupt.requested()) return StopEvent::of(Kind::kInterrupted);
    }
  }

  Stop breakpoint_at(uint64_t rip) const {
    for (const Breakpoint& bp : bps_)
      if (!bp.is_watchpoint() && bp.addr == rip) return StopEvent::hit(bp);
    return std::nullopt;
  }

  // A watchpoint the accesses of `s`'s instruction trigger.
  Stop watch_hit(const HistoryState& s) const {
    for (const MemoryAccess& a : s.accesses)
      for (const Breakpoint& bp : bps_) {
        bool kind_ok = bp.kind == BreakpointKind::kAccess ||
                       (bp.kind == BreakpointKind::kWrite && a.write) ||
                       (bp.kind == BreakpointKind::kRead && !a.write);
        if (kind_ok && a.addr < bp.addr + bp.len && bp.addr < a.addr + a.len)
          return StopEvent::hit(bp, std::max(a.addr, bp.addr));
      }
    return std::nullopt;
  }

  std::vector<HistoryState> states_;
  HistoryEnd end_;
  size_t pos_ = 0;
  std::vector<Breakpoint> bps_;
};

}  // namespace rrvm::testing
