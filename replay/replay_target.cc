#include "replay/replay_target.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "devices/hex.h"
#include "replay/gdb_monitor.h"
#include "trace/trace_inspect.h"
#include "vmm/option_value.h"
#include "vmm/x86_arch.h"

namespace rrvm {

namespace {
constexpr uint64_t kPage = 4096;
constexpr uint64_t kStepsPerInterruptCheck = 4096;
constexpr uint64_t kExitsPerInterruptCheck = 256;
// What `rrvm replay` returns for a recording that ended in a guest crash,
// and by --timeout.
constexpr int kCrashStatus = 70;
constexpr int kTimeoutStatus = 124;
constexpr size_t kMaxEvents = 8;  // the replayer keeps the last 8
constexpr uint64_t kMaxWatchBytes = 64;

}  // namespace

ReplayTarget::ReplayTarget(ReplaySession& session) : s_(session) {
  arm();
}

SessionPosition ReplayTarget::here() {
  // Every resume leaves the position known; a run a breakpoint stopped is
  // resolved before returning.
  if (auto p = s_.position()) return *p;
  throw std::logic_error("replay position unknown");
}

namespace {
// x87/SSE registers from KVM's FPU state: the legacy region of an XSAVE
// area (FXSAVE layout, SDM vol. 1, 10.5.1) or a struct kvm_fpu.
std::optional<FpuRegisters> fpu_registers(const std::vector<uint8_t>& st) {
  FpuRegisters f;
  if (st.size() == sizeof(kvm_fpu)) {
    kvm_fpu k;
    std::memcpy(&k, st.data(), sizeof k);
    for (int i = 0; i < 8; ++i) std::memcpy(f.st[i].data(), k.fpr[i], 10);
    f.fcw = k.fcw, f.fsw = k.fsw, f.ftw = k.ftwx, f.fop = k.last_opcode;
    f.fip = k.last_ip, f.fdp = k.last_dp, f.mxcsr = k.mxcsr;
    for (int i = 0; i < 16; ++i) std::memcpy(f.xmm[i].data(), k.xmm[i], 16);
    return f;
  }
  if (st.size() < 512) return std::nullopt;
  auto at = [&](size_t off, auto& v) { std::memcpy(&v, st.data() + off, sizeof v); };
  at(0, f.fcw), at(2, f.fsw), at(4, f.ftw), at(6, f.fop), at(8, f.fip), at(16, f.fdp);
  at(24, f.mxcsr);
  for (int i = 0; i < 8; ++i) std::memcpy(f.st[i].data(), st.data() + 32 + 16 * i, 10);
  for (int i = 0; i < 16; ++i) std::memcpy(f.xmm[i].data(), st.data() + 160 + 16 * i, 16);
  return f;
}
}  // namespace

DebugRegisters ReplayTarget::registers() {
  s_.settle();
  kvm_regs r = s_.vcpu().get_regs();
  kvm_sregs sr = s_.vcpu().get_sregs();
  DebugRegisters d;
  d.rax = r.rax, d.rbx = r.rbx, d.rcx = r.rcx, d.rdx = r.rdx;
  d.rsi = r.rsi, d.rdi = r.rdi, d.rbp = r.rbp, d.rsp = r.rsp;
  d.r8 = r.r8, d.r9 = r.r9, d.r10 = r.r10, d.r11 = r.r11;
  d.r12 = r.r12, d.r13 = r.r13, d.r14 = r.r14, d.r15 = r.r15;
  d.rip = r.rip;
  // RF is the debug machinery's (set around breakpoints), not the guest's.
  d.rflags = r.rflags & ~kRflagsRf;
  d.cs = sr.cs.selector, d.ss = sr.ss.selector, d.ds = sr.ds.selector;
  d.es = sr.es.selector, d.fs = sr.fs.selector, d.gs = sr.gs.selector;
  d.fs_base = sr.fs.base, d.gs_base = sr.gs.base;
  d.cr0 = sr.cr0, d.cr2 = sr.cr2, d.cr3 = sr.cr3, d.cr4 = sr.cr4, d.cr8 = sr.cr8;
  d.efer = sr.efer;
  // SDM vol. 3, 2.2: 64-bit code is IA-32e mode with CS.L set.
  d.mode = in_64bit_mode(sr) ? CpuMode::kLong64 : CpuMode::kProtected32;
  d.fpu = fpu_registers(s_.vcpu().get_fpu_state());
  return d;
}

size_t ReplayTarget::read_memory(uint64_t addr, std::span<uint8_t> out) {
  s_.settle();
  return read_virtual(addr, out);
}

size_t ReplayTarget::read_virtual(uint64_t addr, std::span<uint8_t> out) {
  bool paging = s_.vcpu().get_sregs().cr0 & kCr0Pg;
  size_t n = 0;
  while (n < out.size()) {
    uint64_t va = addr + n, gpa = va;
    if (paging && !s_.vcpu().translate(va, &gpa)) break;
    size_t chunk = std::min<uint64_t>(out.size() - n, kPage - (va % kPage));
    if (!s_.ram().read(gpa, out.subspan(n, chunk))) break;
    n += chunk;
  }
  return n;
}

bool ReplayTarget::insert_breakpoint(const Breakpoint& bp, std::string* why) {
  if (bp.kind == BreakpointKind::kRead || bp.kind == BreakpointKind::kAccess) {
    *why = "rrvm watches memory by its value (watch); it cannot see reads";
    return false;
  }
  if (bp.is_watchpoint() && (bp.len == 0 || bp.len > kMaxWatchBytes)) {
    *why = "a watchpoint covers 1 to " + std::to_string(kMaxWatchBytes) + " bytes";
    return false;
  }
  if (std::find(bps_.begin(), bps_.end(), bp) == bps_.end()) bps_.push_back(bp);
  arm();
  return true;
}

void ReplayTarget::remove_breakpoint(const Breakpoint& bp) {
  bps_.erase(std::remove(bps_.begin(), bps_.end(), bp), bps_.end());
  arm();
}

// Execution breakpoints are debug registers for free runs, when DR1-DR3
// hold them all; single-steps compare RIP instead (the host ignores
// RFLAGS.RF, so an armed one at the next instruction would stop the step
// before it runs, again and again). Watchpoints compare the watched bytes:
// this class of host (instructions emulated by KVM in ring 0) never reports
// data breakpoints, so they are found by value at exits, then by stepping.
void ReplayTarget::arm() {
  UserDebugRegs run;
  size_t exec = std::count_if(bps_.begin(), bps_.end(),
                              [](const Breakpoint& b) { return !b.is_watchpoint(); });
  all_in_registers_ = exec <= UserDebugRegs::kSlots;
  int slot = 0;
  if (all_in_registers_) {
    for (const Breakpoint& bp : bps_)
      if (!bp.is_watchpoint()) run.set(slot++, bp.addr, 0, 1);
  }
  s_.set_user_debug(run, UserDebugRegs{});
  watched_ = watched_values();
}

std::vector<std::vector<uint8_t>> ReplayTarget::watched_values() {
  std::vector<std::vector<uint8_t>> v;
  for (const Breakpoint& bp : bps_) {
    if (!bp.is_watchpoint()) continue;
    std::vector<uint8_t> bytes(bp.len);
    bytes.resize(read_virtual(bp.addr, bytes));
    v.push_back(std::move(bytes));
  }
  return v;
}

// The watchpoint whose bytes differ from `watched_` (then updated).
ReplayTarget::Stop ReplayTarget::watch_changed() {
  if (watched_.empty()) return std::nullopt;
  std::vector<std::vector<uint8_t>> now = watched_values();
  Stop hit;
  size_t i = 0;
  for (const Breakpoint& bp : bps_) {
    if (!bp.is_watchpoint()) continue;
    if (!hit && now[i] != watched_[i]) hit = StopEvent::hit(bp, bp.addr);
    ++i;
  }
  watched_ = std::move(now);
  return hit;
}

StopEvent ReplayTarget::end_stop(const RunResult& r) {
  switch (r.reason) {
    case StopReason::kGuestExit:
      return StopEvent::exited(r.status & 0xff);
    case StopReason::kPowerOff:
      return StopEvent::exited(0);
    case StopReason::kEndOfTrace:
      return StopEvent::of(StopEvent::Kind::kHistoryEnd);
    case StopReason::kInterrupted:
      return StopEvent::of(StopEvent::Kind::kInterrupted);
    case StopReason::kDiverged:
      throw std::runtime_error(r.message);
    case StopReason::kTimeout:  // the recording ended by --timeout
      return StopEvent::exited(kTimeoutStatus);
    default:
      return StopEvent::exited(kCrashStatus);
  }
}

ReplayTarget::Stop ReplayTarget::step_forward() {
  if (auto r = s_.step_instruction()) return end_stop(*r);
  return watch_changed();
}

ReplayTarget::Stop ReplayTarget::breakpoint_here() {
  uint64_t rip = s_.vcpu().get_regs().rip;
  for (const Breakpoint& bp : bps_)
    if (!bp.is_watchpoint() && bp.addr == rip) return StopEvent::hit(bp);
  return std::nullopt;
}

StopEvent ReplayTarget::resume(ResumeKind kind, InterruptCheck& interrupt) {
  here();
  switch (kind) {
    case ResumeKind::kStep:
      return step_forward().value_or(StopEvent{});
    case ResumeKind::kContinue:
      return forward_continue(interrupt);
    case ResumeKind::kReverseStep:
      return reverse_step();
    case ResumeKind::kReverseContinue:
      return reverse_continue(interrupt);
  }
  return StopEvent{};
}

// Instruction by instruction until a breakpoint, a watchpoint, the end.
StopEvent ReplayTarget::step_until_hit(InterruptCheck& interrupt) {
  for (uint64_t n = 1;; ++n) {
    if (auto stop = breakpoint_here()) return *stop;
    if (auto stop = step_forward()) return *stop;
    if (n % kStepsPerInterruptCheck == 0 && interrupt.requested())
      return StopEvent::of(StopEvent::Kind::kInterrupted);
  }
}

StopEvent ReplayTarget::forward_continue(InterruptCheck& interrupt) {
  watched_ = watched_values();
  // Off the instruction we stand on first: a breakpoint here does not stop.
  if (auto stop = step_forward()) return *stop;
  if (!all_in_registers_) return step_until_hit(interrupt);
  SessionPosition from = here();
  for (uint64_t n = 1;; ++n) {
    uint64_t before = s_.replayer().ordinal();
    std::optional<RunResult> r = s_.next_exit();
    bool changed = !r && watch_changed();
    if (!r && !changed) {
      if (n % kExitsPerInterruptCheck == 0 && interrupt.requested())
        return StopEvent::of(StopEvent::Kind::kInterrupted);
      continue;
    }
    if (r && r->reason != StopReason::kBreakpoint && r->reason != StopReason::kInterrupted)
      return end_stop(*r);
    // Somewhere in the interval after `exit`: find where, stepping.
    uint64_t exit = changed ? before : s_.replayer().ordinal();
    if (auto end = s_.seek(exit == from.exit ? from : SessionPosition{exit, 0}))
      return end_stop(*end);
    if (r && r->reason == StopReason::kInterrupted)
      return StopEvent::of(StopEvent::Kind::kInterrupted);
    watched_ = watched_values();
    return step_until_hit(interrupt);
  }
}

StopEvent ReplayTarget::reverse_step() {
  SessionPosition p = here();
  std::optional<SessionPosition> target;
  if (p.steps > 0) {
    target = SessionPosition{p.exit, p.steps - 1};
  } else {
    // The last instruction of the interval before (string I/O can make
    // several exits in one instruction: those intervals are empty).
    for (uint64_t e = p.exit; e-- > 0 && !target;) {
      std::optional<uint64_t> len = s_.interval_length(e);
      if (len && *len > 0) target = SessionPosition{e, *len - 1};
    }
  }
  if (!target) {
    s_.seek({0, 0});
    return StopEvent::of(StopEvent::Kind::kHistoryStart);
  }
  if (auto r = s_.seek(*target)) return end_stop(*r);
  return StopEvent{};
}

// The latest hit before the current position: checkpoint segment by
// checkpoint segment backwards from here.
StopEvent ReplayTarget::reverse_continue(InterruptCheck& interrupt) {
  SessionPosition end = here();
  std::vector<uint64_t> cps = s_.checkpoint_exits();
  SessionPosition to = end;
  for (auto it = cps.rbegin(); it != cps.rend(); ++it) {
    SessionPosition from{*it, 0};
    if (from >= to) continue;
    if (!bps_.empty()) {
      if (std::optional<Hit> hit = last_hit(from, to)) {
        if (auto r = s_.seek(hit->at)) return end_stop(*r);
        return hit->event;
      }
    }
    to = from;
    if (interrupt.requested()) {
      s_.seek(to);
      return StopEvent::of(StopEvent::Kind::kInterrupted);
    }
  }
  s_.seek({0, 0});
  return StopEvent::of(StopEvent::Kind::kHistoryStart);
}

std::optional<ReplayTarget::Hit> ReplayTarget::last_hit(SessionPosition from, SessionPosition to) {
  std::vector<HitInterval> intervals;
  if (all_in_registers_) {
    intervals = intervals_with_hits(from, to);
  } else {
    for (uint64_t e = from.exit; e <= to.exit; ++e) intervals.push_back({e, 0, false});
  }
  for (auto it = intervals.rbegin(); it != intervals.rend(); ++it)
    if (auto hit = last_hit_in_interval(*it, to)) return hit;
  return std::nullopt;
}

// The intervals in [from, to) in which a breakpoint fires or a watched
// value changes: one free run with the breakpoints armed, stepping over
// each hit, looking at the watched bytes at each exit.
std::vector<ReplayTarget::HitInterval> ReplayTarget::intervals_with_hits(SessionPosition from,
                                                                         SessionPosition to) {
  std::vector<HitInterval> out;
  if (s_.seek(from)) return out;
  watched_ = watched_values();
  auto note = [&](uint64_t exit) -> HitInterval& {
    if (out.empty() || out.back().exit != exit) out.push_back({exit, 0, false});
    return out.back();
  };
  for (;;) {
    uint64_t exit = s_.replayer().ordinal();
    if (exit > to.exit || (exit == to.exit && to.steps == 0)) return out;
    std::optional<RunResult> r = s_.next_exit();
    if (!r) {
      if (watch_changed()) note(exit).watch_changed = true;
      continue;
    }
    if (r->reason != StopReason::kBreakpoint) return out;
    HitInterval& in = note(s_.replayer().ordinal());
    ++in.breakpoint_hits;
    if (s_.step_instruction()) return out;  // past the hit: disarmed for one step
  }
}

// The latest hit in the interval after `in.exit`, before `to`, single-
// stepping it from its start: up to the last breakpoint hit the free run
// counted there, or to its end when that is not known (watchpoints, the
// interval `to` is in, more breakpoints than debug registers).
std::optional<ReplayTarget::Hit> ReplayTarget::last_hit_in_interval(const HitInterval& in,
                                                                    SessionPosition to) {
  std::optional<Hit> last;
  if (s_.seek({in.exit, 0})) return last;
  watched_ = watched_values();
  uint64_t wanted = in.exit == to.exit || in.watch_changed ? 0 : in.breakpoint_hits, seen = 0;
  for (;;) {
    std::optional<SessionPosition> at = s_.position();
    if (!at || at->exit != in.exit || *at >= to) return last;
    if (auto stop = breakpoint_here()) {
      last = Hit{*at, *stop};
      if (wanted && ++seen == wanted) return last;
    }
    if (s_.step_instruction()) return last;
    if (auto w = watch_changed()) last = Hit{*at, *w};
  }
}

std::string ReplayTarget::monitor(std::string_view command) {
  std::vector<std::string> w = gdb::monitor_words(command);
  if (w.empty() || w[0] == "help")
    return "when                     the position: exit ordinal, instructions since it\n"
           "seek EXIT                go to just after exit EXIT (then: maint flush "
           "register-cache)\n"
           "events [N]               the last N (8) recorded inputs replayed, as rrvm dump shows "
           "them\n"
           "checkpoints              the checkpoints held and their memory\n";
  if (w[0] == "when" && w.size() == 1) {
    std::string t = here().text();
    if (s_.end() && here() >= s_.end_position()) t += " (the end of the trace)";
    return t + "\n";
  }
  if (w[0] == "seek" && w.size() == 2) return seek_command(w[1]);
  if (w[0] == "events" && w.size() <= 2) return events_command(w.size() == 2 ? w[1] : "");
  if (w[0] == "checkpoints" && w.size() == 1) return checkpoints_command();
  return "unknown monitor command '" + std::string(command) + "'; try 'monitor help'\n";
}

std::string ReplayTarget::seek_command(const std::string& arg) {
  std::optional<uint64_t> exit = parse_decimal(arg);
  if (!exit) return "usage: monitor seek EXIT (a decimal exit ordinal)\n";
  if (auto r = s_.seek({*exit, 0}))
    return "the replay ends before exit " + arg + ": " + std::string(to_string(r->reason)) +
           " at " + here().text() + "\n";
  return "at " + here().text() + "\n";
}

std::string ReplayTarget::events_command(const std::string& arg) {
  uint64_t n = kMaxEvents;
  if (!arg.empty()) {
    std::optional<uint64_t> v = parse_decimal(arg);
    if (!v || *v == 0) return "usage: monitor events [N]\n";
    n = std::min<uint64_t>(*v, kMaxEvents);
  }
  const auto& recent = s_.replayer().recent_events();
  std::string out;
  size_t first = recent.size() > n ? recent.size() - n : 0;
  for (size_t i = first; i < recent.size(); ++i)
    out += trace::format_event(recent[i].view()) + "\n";
  return out.empty() ? "no recorded input replayed yet\n" : out;
}

std::string ReplayTarget::checkpoints_command() {
  std::string out;
  for (uint64_t e : s_.checkpoint_exits()) out += "exit " + std::to_string(e) + "\n";
  out += std::to_string(s_.checkpoint_exits().size()) + " checkpoints, " +
         std::to_string(s_.checkpoint_bytes() >> 10) + " KiB of " +
         std::to_string(s_.policy().memory_bytes >> 20) + " MiB, every " +
         std::to_string(s_.policy().every_exits) + " exits\n";
  return out;
}

}  // namespace rrvm
