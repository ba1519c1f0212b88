// What a debugger may ask of a replaying machine: the interface between the
// GDB remote protocol server (replay/gdb_server.h) and what it debugs (the
// replay session, or a scripted fake in tests).
//
// It is read-only on purpose: a replay can be inspected and moved through
// time, never changed (a written register or byte would make the rest of the
// trace meaningless and every digest after it fail). One vCPU; all calls come
// from the server's thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rrvm {

// How the CPU decodes instructions right now (Intel SDM vol. 3, 2.2: IA-32e
// mode with CS.L=1 is 64-bit; protected mode, and compatibility mode with
// CS.L=0 and CS.D=1, are 32-bit). Multiboot guests start in kProtected32 and
// switch to kLong64.
enum class CpuMode : uint8_t { kProtected32, kLong64 };

// x87 and SSE state as KVM_GET_FPU has it (kvm_fpu), for the registers gdb's
// i386 core and sse features name. Optional: a target without it leaves
// DebugRegisters::fpu empty and gdb shows those registers <unavailable>.
struct FpuRegisters {
  std::array<std::array<uint8_t, 10>, 8> st{};  // ST(0)..ST(7), stack order as FXSAVE has them
  uint16_t fcw = 0x37f, fsw = 0;
  uint8_t ftw = 0;  // abridged tag word (FXSAVE format)
  uint16_t fop = 0;
  uint64_t fip = 0, fdp = 0;  // last instruction / operand pointer
  std::array<std::array<uint8_t, 16>, 16> xmm{};
  uint32_t mxcsr = 0x1f80;
};

// The registers gdb can show. Segment registers are selectors; their bases
// other than fs/gs are not part of gdb's x86 register set.
struct DebugRegisters {
  uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rbp = 0, rsp = 0;
  uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
  uint64_t rip = 0, rflags = 0x2;
  uint16_t cs = 0, ss = 0, ds = 0, es = 0, fs = 0, gs = 0;
  uint64_t fs_base = 0, gs_base = 0;
  uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0, efer = 0;
  CpuMode mode = CpuMode::kLong64;
  std::optional<FpuRegisters> fpu;
};

// Execution breakpoints of either kind stop before the instruction at `addr`
// runs; on the replay target both are debug registers (no int3 is written
// into guest memory, so memory digests stay valid) and differ only in how
// gdb is told about the stop (swbreak/hwbreak). Watchpoints cover `len`
// bytes at `addr` and stop after the accessing instruction (before it, in
// reverse). More of them than the CPU has debug registers is the target's
// business: it may take a slower path, never refuse for that reason alone.
enum class BreakpointKind : uint8_t { kSoftware, kHardware, kWrite, kRead, kAccess };

struct Breakpoint {
  BreakpointKind kind = BreakpointKind::kSoftware;
  uint64_t addr = 0;
  uint64_t len = 1;  // watched bytes; execution breakpoints: gdb's "kind" (1)

  bool is_watchpoint() const { return kind >= BreakpointKind::kWrite; }
  bool operator==(const Breakpoint&) const = default;
};

enum class ResumeKind : uint8_t { kStep, kContinue, kReverseStep, kReverseContinue };

// Why a resume returned. The position it left the machine at is the one the
// next register and memory reads see.
struct StopEvent {
  enum class Kind : uint8_t {
    kStepped,       // a step (forward or reverse) completed one instruction
    kBreakpoint,    // `breakpoint` (an execution breakpoint) is at the new RIP
    kWatchpoint,    // `breakpoint` (a watchpoint) was hit; data_addr is inside it
    kHistoryStart,  // going backwards, the start of the trace was reached
    kHistoryEnd,    // going forwards, the trace ended without the guest exiting
    kExited,        // the guest ended (power-off, isa-debug-exit); exit_status
    kInterrupted,   // InterruptCheck::requested() said so
  };
  Kind kind = Kind::kStepped;
  Breakpoint breakpoint;   // kBreakpoint, kWatchpoint
  uint64_t data_addr = 0;  // kWatchpoint: the accessed address
  int exit_status = 0;     // kExited: the status `rrvm replay` would return

  static StopEvent of(Kind kind) {
    StopEvent e;
    e.kind = kind;
    return e;
  }
  // kBreakpoint or kWatchpoint, by the kind of `bp`.
  static StopEvent hit(const Breakpoint& bp, uint64_t data_addr = 0) {
    StopEvent e = of(bp.is_watchpoint() ? Kind::kWatchpoint : Kind::kBreakpoint);
    e.breakpoint = bp;
    e.data_addr = data_addr;
    return e;
  }
  static StopEvent exited(int status) {
    StopEvent e = of(Kind::kExited);
    e.exit_status = status;
    return e;
  }
};

// Asked by a running resume whether the debugger wants it stopped (gdb's
// Ctrl-C). Each call may cost a system call: call it every few milliseconds
// of work (at VM exits, every few thousand single-steps), not per
// instruction.
class InterruptCheck {
 public:
  virtual ~InterruptCheck() = default;
  virtual bool requested() = 0;
};

class DebugTarget {
 public:
  virtual ~DebugTarget() = default;

  // The registers at the current position.
  virtual DebugRegisters registers() = 0;

  // Reads guest-virtual memory at `addr` through the guest's current page
  // tables (physical = virtual while paging is off). Returns how many bytes
  // from the start of `out` were read; fewer than out.size() where the
  // range runs into an unmapped page or past RAM.
  virtual size_t read_memory(uint64_t addr, std::span<uint8_t> out) = 0;

  // Arms or disarms a breakpoint or watchpoint for the following resumes.
  // insert returns false (the reason on `why`) for one the target cannot
  // honour at all, e.g. an unsupported watch length. Removing one that is
  // not armed is not an error.
  virtual bool insert_breakpoint(const Breakpoint& bp, std::string* why) = 0;
  virtual void remove_breakpoint(const Breakpoint& bp) = 0;

  // Moves the machine. kStep/kReverseStep move one instruction; the continue
  // kinds run until an armed breakpoint or watchpoint, the end (or, in
  // reverse, the start) of the trace, or `interrupt`. A reverse continue stops
  // at the latest hit before the current position: for an execution
  // breakpoint with RIP at it, for a watchpoint before the accessing
  // instruction. A breakpoint at the starting RIP does not stop a continue
  // before it has moved. A step stops with kStepped, or kWatchpoint when
  // the instruction it crossed hit one; it does not report a breakpoint at
  // the RIP it lands on (gdb sees that itself).
  virtual StopEvent resume(ResumeKind kind, InterruptCheck& interrupt) = 0;

  // Runs a `monitor` command ("when", "seek 120", ...) and returns the text
  // to print, newline-terminated; an unknown command returns an error text
  // that says what the valid ones are.
  virtual std::string monitor(std::string_view command) = 0;
};

}  // namespace rrvm
