#include "replay/bisect.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "devices/char_backend.h"
#include "devices/hex.h"
#include "firmware/load_error.h"
#include "replay/dirty_tracker.h"
#include "replay/first_touch.h"
#include "replay/landmark.h"
#include "replay/memory_diff.h"
#include "replay/pair_runner.h"
#include "replay/replay_session.h"
#include "replay/replayer.h"
#include "replay/single_step.h"
#include "replay/trace_header.h"
#include "trace/trace_inspect.h"
#include "vmm/cpu_dump.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/pc_board.h"

namespace rrvm {

namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kMaxPagesListed = 16;

class DiscardSink final : public CharSink {
 public:
  void write(uint8_t) override {}
};

// An emulation failure is one too: rrvm completes the instruction there
// (vmm/instruction_completion.h) or the run ends in a crash, in both replays alike.
bool natural(uint32_t reason) {
  return reason == KVM_EXIT_IO || reason == KVM_EXIT_MMIO || reason == KVM_EXIT_HLT ||
         reason == KVM_EXIT_INTERNAL_ERROR || reason == KVM_EXIT_X86_RDMSR ||
         reason == KVM_EXIT_X86_WRMSR;
}

// A side replayed from a trace file on a KVM machine, its output discarded.
class TraceReplay final : public BisectReplay {
 public:
  TraceReplay(const BisectSideSpec& spec, const BisectOptions& opts)
      : reader_(spec.trace_path),
        cpu_(cpu_from_trace(reader_.header())),
        session_(reader_, spec.config, images_from_trace(reader_), sink_,
                 options(spec, opts.stall_seconds, reader_),
                 CheckpointPolicy{0, opts.checkpoint_memory}, recorded_cpu(spec)) {
    // Registers after every step without an ioctl each (most of a step's cost).
    session_.machine().vcpu().sync_registers(true);
  }
  ReplaySession& session() override { return session_; }
  const BiosTablesInfo* bios_tables() override { return &session_.machine().board().bios_tables(); }
  KvmVm* vm() override { return &session_.machine().vm(); }

 private:
  // The trace's own CPU, unless an --override chose another model.
  const RecordedCpu* recorded_cpu(const BisectSideSpec& spec) {
    return config_from_trace(reader_.header()).cpu == spec.config.cpu ? &cpu_ : nullptr;
  }
  static ReplayOptions options(const BisectSideSpec& spec, double stall,
                               const trace::TraceReader& reader) {
    ReplayOptions o = replay_options_for(reader);
    o.follow_models = spec.follow_models;
    o.verify = !spec.follow_models;
    o.stall_seconds = stall;
    return o;
  }

  trace::TraceReader reader_;
  RecordedCpu cpu_;
  DiscardSink sink_;
  ReplaySession session_;
};

// One execution as the search moves it: its replay, and when it last
// took a checkpoint.
class Side {
 public:
  Side(std::unique_ptr<BisectReplay> replay, const BisectOptions& opts)
      : replay_(std::move(replay)),
        session_(replay_->session()),
        min_gap_(std::chrono::duration_cast<SteadyClock::duration>(
            std::chrono::duration<double>(opts.checkpoint_seconds))),
        gap_(min_gap_) {}

  ReplaySession& session() { return session_; }
  Replayer& replayer() { return session_.replayer(); }
  Vcpu& vcpu() { return session_.vcpu(); }
  kvm_run* run() { return vcpu().run_area(); }
  const BiosTablesInfo* bios_tables() { return replay_->bios_tables(); }
  KvmVm* vm() { return replay_->vm(); }

  // One instruction (or the exit it makes); returns the exit reason.
  uint32_t single_step() { return step_instruction(vcpu(), session_.ram()); }
  // During the lockstep, at an exit already compared: a checkpoint once
  // this side has replayed `gap_` since its last one, so that going back
  // to the last common exit replays less than that. The gap is the
  // option's, or 20 times what the last checkpoint took if more: at most
  // a twentieth of the lockstep goes to checkpoints.
  void maybe_checkpoint() {
    auto t = SteadyClock::now();
    if (gap_ <= SteadyClock::duration::zero() || t - last_checkpoint_ < gap_) return;
    if (session_.take_checkpoint()) gap_ = std::max(min_gap_, 20 * (SteadyClock::now() - t));
    last_checkpoint_ = SteadyClock::now();
  }
  void set_single_step(bool on) {
    kvm_guest_debug dbg{};
    if (on) dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
    vcpu().set_guest_debug(dbg);
  }

 private:
  using SteadyClock = std::chrono::steady_clock;

  std::unique_ptr<BisectReplay> replay_;
  ReplaySession& session_;
  SteadyClock::duration min_gap_, gap_;
  SteadyClock::time_point last_checkpoint_ = SteadyClock::now();
};

// What the guest did at an exit, as far as both sides can be compared.
struct ExitView {
  uint32_t reason = 0;
  uint64_t addr = 0;
  uint32_t size = 0;
  bool write = false;
  uint64_t data = 0;
  Bus::Hit hit{};  // the device at the port or address then (the bus changes)
};

ExitView view_of(Side& s) {
  const kvm_run* run = s.run();
  ExitView v;
  v.reason = run->exit_reason;
  if (v.reason == KVM_EXIT_IO) {
    v.addr = run->io.port;
    v.size = run->io.size;
    v.write = run->io.direction == KVM_EXIT_IO_OUT;
    const uint8_t* p = reinterpret_cast<const uint8_t*>(run) + run->io.data_offset;
    std::memcpy(&v.data, p, std::min<uint32_t>(v.size, 8));
  } else if (v.reason == KVM_EXIT_MMIO) {
    v.addr = run->mmio.phys_addr;
    v.size = run->mmio.len;
    v.write = run->mmio.is_write;
    std::memcpy(&v.data, run->mmio.data, std::min<uint32_t>(v.size, 8));
  } else if (v.reason == KVM_EXIT_X86_RDMSR || v.reason == KVM_EXIT_X86_WRMSR) {
    v.addr = run->msr.index;
    v.size = 8;
    v.write = v.reason == KVM_EXIT_X86_WRMSR;
    v.data = run->msr.data;
    return v;
  }
  bool pio = v.reason == KVM_EXIT_IO;
  Bus& bus = pio ? s.session().board().pio : s.session().board().mmio;
  v.hit = bus.find(v.addr, v.size ? v.size : 1);
  return v;
}

std::string exit_kind(const ExitView& v) {
  switch (v.reason) {
    case KVM_EXIT_IO:
      return "port I/O";
    case KVM_EXIT_MMIO:
      return "MMIO";
    case KVM_EXIT_HLT:
      return "HLT";
    case KVM_EXIT_INTERNAL_ERROR:
      return "emulation failure";
    case KVM_EXIT_X86_RDMSR:
      return "RDMSR";
    case KVM_EXIT_X86_WRMSR:
      return "WRMSR";
    default:
      return "exit reason " + std::to_string(v.reason);
  }
}

// "port 0xc048 (rtl8139 TCTR)", from the side's bus at the exit.
std::string place(const ExitView& v) {
  if (v.reason == KVM_EXIT_X86_RDMSR || v.reason == KVM_EXIT_X86_WRMSR) return "MSR " + hex(v.addr);
  std::string what = (v.reason == KVM_EXIT_IO ? "port " : "address ") + hex(v.addr);
  if (!v.hit.dev) return what + " (unmapped)";
  std::string reg = v.hit.dev->register_name(v.hit.offset);
  return what + " (" + std::string(v.hit.dev->name()) + (reg.empty() ? "" : " " + reg) + ")";
}

std::string value_hex(uint64_t v, uint32_t size) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%0*llx", int(std::min<uint32_t>(size, 8) * 2),
                static_cast<unsigned long long>(v));
  return b;
}

// Nullopt when the two exits (A's `x`, B's `y`) look the same to the guest.
std::optional<std::string> compare_exits(const ExitView& x, const ExitView& y) {
  if (x.reason != y.reason || x.addr != y.addr || x.size != y.size || x.write != y.write) {
    auto side = [](const ExitView& v) {
      return exit_kind(v) + (v.reason == KVM_EXIT_HLT
                                 ? std::string()
                                 : (v.write ? " write to " : " read of ") + place(v));
    };
    return "A makes a " + side(x) + ", B a " + side(y);
  }
  if (x.data != y.data && x.reason != KVM_EXIT_HLT && x.reason != KVM_EXIT_INTERNAL_ERROR) {
    return std::string(x.write ? "write to " : "read of ") + place(x) + ": " +
           value_hex(x.data, x.size) + " vs " + value_hex(y.data, y.size);
  }
  return std::nullopt;
}

std::optional<std::string> compare_registers(const RegisterSnapshot& ra,
                                             const RegisterSnapshot& rb) {
  if (ra.same_state(rb)) return std::nullopt;
  return ra.diff(rb);
}

std::optional<std::string> compare_registers(Side& a, Side& b) {
  return compare_registers(RegisterSnapshot::from(a.vcpu().get_regs()),
                           RegisterSnapshot::from(b.vcpu().get_regs()));
}

// One exit of the lockstep, as it is compared.
struct ExitRecord {
  std::optional<RunResult> end;  // the side's replay stopped instead
  uint64_t ordinal = 0;
  ExitView view;
  RegisterSnapshot regs;
};

// On to `s`'s next exit, after a checkpoint if one is due: a checkpoint
// is taken after the exit before it was compared, since completing an exit
// for it changes the run area the comparison reads.
ExitRecord next_exit(Side& s) {
  s.maybe_checkpoint();
  ExitRecord r;
  r.end = s.session().next_exit();
  r.ordinal = s.replayer().ordinal();
  if (!r.end) {
    r.view = view_of(s);
    r.regs = RegisterSnapshot::from(s.vcpu().get_regs());
  }
  return r;
}

// Phase 1's side B, built and replayed on a thread of its own while the
// caller builds A, then replays A and compares: the two machines run at
// once. B runs at most kLead exits ahead of the comparison, and stops
// (interrupted if it is inside an exit) when asked, so it goes no further
// past the first differing exit than that: phase 2 takes both sides back
// to the last common exit anyway. Its vCPU moves to the caller's thread
// after stop() (cheap: KVM notes the new thread, the stall kicker follows).
class AheadReplay {
 public:
  using Make = std::function<std::unique_ptr<Side>()>;
  explicit AheadReplay(Make make) : thread_([this, make] { build_and_replay(make); }) {}
  ~AheadReplay() { stop(); }
  AheadReplay(const AheadReplay&) = delete;
  AheadReplay& operator=(const AheadReplay&) = delete;

  // B, once built (rethrows what its constructor threw); it replays after go().
  std::unique_ptr<Side> side() {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return b_ || error_; });
    if (error_) std::rethrow_exception(error_);
    return std::move(owned_);
  }
  void go() {
    {
      std::lock_guard<std::mutex> lock(m_);
      go_ = true;
    }
    cv_.notify_all();
  }

  // B's `i`-th exit (0-based), once B has made it; valid until compared().
  // Rethrows what stopped B's replay with an exception.
  const ExitRecord& exit(uint64_t i) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return base_ + records_.size() > i || error_; });
    if (error_) std::rethrow_exception(error_);
    return records_[i - base_];
  }
  // The caller has compared B's exits before `n`: B may go on.
  void compared(uint64_t n) {
    {
      std::lock_guard<std::mutex> lock(m_);
      while (base_ < n && !records_.empty()) {
        records_.pop_front();
        ++base_;
      }
    }
    cv_.notify_all();
  }
  // B stops where it is; returns when its thread is done.
  void stop() {
    if (!thread_.joinable()) return;
    Side* b = nullptr;
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
      b = b_;
    }
    cv_.notify_all();
    if (b) b->replayer().interrupt();
    thread_.join();
  }

 private:
  static constexpr uint64_t kLead = 8;

  void build_and_replay(const Make& make) {
    try {
      std::unique_ptr<Side> side = make();
      std::unique_lock<std::mutex> lock(m_);
      b_ = side.get();
      owned_ = std::move(side);
      cv_.notify_all();
      cv_.wait(lock, [&] { return stop_ || go_; });
      if (stop_) return;
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    replay();
  }

  void replay() {
    try {
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(m_);
          cv_.wait(lock, [&] { return stop_ || records_.size() < kLead; });
          if (stop_) return;
        }
        ExitRecord r = next_exit(*b_);
        bool last = r.end.has_value();
        {
          std::lock_guard<std::mutex> lock(m_);
          if (stop_) return;  // interrupted by stop(): no exit made
          records_.push_back(std::move(r));
        }
        cv_.notify_all();
        if (last) return;
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_);
      error_ = std::current_exception();
      cv_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  Side* b_ = nullptr;
  std::unique_ptr<Side> owned_;  // until side() hands it over
  bool go_ = false;
  std::deque<ExitRecord> records_;  // B's exits from base_ on
  uint64_t base_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once the members above exist
};

std::string table_at(const BiosTablesInfo* tables, uint64_t page) {
  if (!tables) return "";
  const BiosTablesInfo& t = *tables;
  struct Area {
    uint64_t addr, size;
    const char* name;
  } areas[] = {
      {0, kPage, "BIOS data area"},
      {t.mp_floating_addr, 16, "MP floating pointer"},
      {t.mp_config_addr, t.mp_config_size, "MP configuration table"},
      {t.rsdp_addr, 36, "ACPI RSDP"},
      {t.facs_addr, 64, "ACPI FACS"},
      {t.dsdt_addr, t.dsdt_size, "ACPI DSDT"},
      {t.fadt_addr, 1, "ACPI FADT"},
      {t.madt_addr, 1, "ACPI MADT"},
      {t.rsdt_addr, 1, "ACPI RSDT"},
      {t.xsdt_addr, 1, "ACPI XSDT"},
  };
  std::string names;
  for (const Area& a : areas) {
    if (!a.addr && a.size != kPage) continue;
    if (a.addr < page + kPage && a.addr + std::max<uint64_t>(a.size, 1) > page)
      names += (names.empty() ? "" : ", ") + std::string(a.name);
  }
  return names;
}

// Pages whose contents differ between the two sides' RAM.
std::vector<PageDiff> differing_pages(Side& a, Side& b, uint64_t* total) {
  std::vector<PageDiff> out;
  *total = 0;
  for_each_differing_page(a.session().ram(), b.session().ram(), [&](uint64_t gpa) {
    ++*total;
    if (out.size() >= kMaxPagesListed) return true;
    std::string ta = table_at(a.bios_tables(), gpa);
    std::string tb = table_at(b.bios_tables(), gpa);
    std::string what = ta;
    if (ta != tb) what += (!ta.empty() && !tb.empty() ? " / " : "") + tb;
    out.push_back({gpa, what});
    return true;
  });
  return out;
}

std::vector<std::string> recent(Side& s) {
  std::vector<std::string> out;
  for (const trace::StoredEvent& e : s.replayer().recent_events())
    out.push_back(trace::format_event(e.view()));
  return out;
}

// How a side's replay ended, in one line: a replayer's divergence report
// is cut to its first sentence (its event list is in the bisect report).
std::string ending(const RunResult& r) {
  std::string msg = r.message.substr(0, r.message.find('\n'));
  const std::string prefix = "replay diverged from the recording at exit ";
  if (msg.rfind(prefix, 0) == 0) msg = msg.substr(msg.find(": ") + 2);
  if (r.reason == StopReason::kDiverged) return "at exit " + std::to_string(r.exits) + ": " + msg;
  return std::string(to_string(r.reason)) + " at exit " + std::to_string(r.exits) +
         (msg.empty() ? "" : ": " + msg);
}

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class Bisector {
 public:
  Bisector(const OpenBisectSide& open, const GuestSymbols& symbols, const BisectOptions& opts)
      : open_(open), symbols_(symbols), opts_(opts) {}

  BisectResult run() {
    auto t0 = Clock::now();
    if (!lockstep()) {
      if (opts_.on_result) opts_.on_result(res_, a_->session());
      return res_;
    }
    res_.lockstep_seconds = since(t0);
    auto t1 = Clock::now();
    replay_to_last_common();
    res_.replay_seconds = since(t1);
    auto t2 = Clock::now();
    single_step();
    res_.step_seconds = since(t2);
    if (opts_.on_result) {
      if (res_.instruction_found) position_at_divergence();
      opts_.on_result(res_, a_->session());
    }
    return res_;
  }

 private:
  std::unique_ptr<Side> make_side(int side) { return std::make_unique<Side>(open_(side), opts_); }
  void progress(const std::string& phase, uint64_t exits) {
    if (opts_.progress) opts_.progress(phase, exits);
  }

  // Phase 1. Returns false when there is nothing more to search.
  bool lockstep() {
    AheadReplay b([this] { return make_side(1); });
    a_ = make_side(0);
    b_ = b.side();
    uint64_t start_total = 0;
    res_.start_pages = differing_pages(*a_, *b_, &start_total);
    b.go();
    for (uint64_t i = 0;; ++i) {
      ExitRecord ra = next_exit(*a_);
      const ExitRecord& rb = b.exit(i);
      uint64_t n = std::max(ra.ordinal, rb.ordinal);
      if (n % 4096 == 0) progress("lockstep", n);
      std::optional<std::string> d;
      if (!ra.end && !rb.end) {
        d = compare_exits(ra.view, rb.view);
        if (!d) d = compare_registers(ra.regs, rb.regs);
      }
      if (ra.end || rb.end || d) {
        std::optional<RunResult> eb = rb.end;
        b.stop();  // B stands still for what follows
        if (!d) return ends(ra.end, eb, n);
        res_.first_differing_exit = n;
        res_.summary = "exit " + std::to_string(n) + ": " + *d;
        return true;
      }
      res_.lockstep_exits = n;
      b.compared(i + 1);
    }
  }

  bool ends(const std::optional<RunResult>& ea, const std::optional<RunResult>& eb, uint64_t n) {
    if (ea) res_.side_a_end = ending(*ea);
    if (eb) res_.side_b_end = ending(*eb);
    bool same = ea && eb && ea->reason == eb->reason && ea->status == eb->status &&
                ea->reason != StopReason::kDiverged;
    if (same) {
      uint64_t total = 0;
      res_.divergence_pages = differing_pages(*a_, *b_, &total);
      res_.divergence_pages_total = total;
      if (total == 0 || only_start_pages()) {
        res_.summary =
            "no divergence: both executions are identical to their end (" + std::to_string(n) +
            " exits)" +
            (total ? "; memory differs only where the machines differed from the start" : "");
        return false;
      }
      res_.diverged = true;
      res_.summary =
          "the executions end alike but " + std::to_string(total) + " pages of guest memory differ";
      return false;
    }
    res_.first_differing_exit = n;
    res_.summary = "exit " + std::to_string(n) + ": " +
                   (ea && eb ? "A: " + res_.side_a_end + "; B: " + res_.side_b_end
                    : ea     ? "A ends (" + res_.side_a_end + ") where B goes on"
                             : b_alone_ends(*eb));
    return true;
  }

  // B's replay stopped where A's goes on: a changed machine that departs
  // from the trace (follow_models), or B's own trace that ends there.
  std::string b_alone_ends(const RunResult& eb) const {
    return eb.reason == StopReason::kDiverged
               ? "B's machine departs from the trace " + res_.side_b_end
               : "B ends (" + res_.side_b_end + ") where A goes on";
  }

  // The pages differing at the end are those that differed at the start
  // (a changed firmware table the guest never looked at).
  bool only_start_pages() const {
    if (res_.divergence_pages_total > res_.start_pages.size()) return false;
    for (const auto& p : res_.divergence_pages) {
      bool found = false;
      for (const auto& q : res_.start_pages) found = found || q.addr == p.addr;
      if (!found) return false;
    }
    return true;
  }

  // Phase 2: both sides back to the last exit they share, each from its
  // last checkpoint before it.
  void replay_to_last_common() {
    res_.diverged = true;
    res_.last_common_exit = res_.first_differing_exit ? res_.first_differing_exit - 1 : 0;
    progress("replay to exit " + std::to_string(res_.last_common_exit), 0);
    if (a_->session().seek({res_.last_common_exit, 0})) return;
    b_->session().seek({res_.last_common_exit, 0});
  }

  // Phase 3: through the final interval, instruction by instruction where
  // running to the differing memory does not settle it.
  void single_step() {
    progress("single-step", res_.last_common_exit);
    if (!enter_interval() || run_to_touches()) return;
    for (uint64_t steps = 0; steps < opts_.max_steps; ++steps) {
      before_ = {a_->replayer().ordinal(), RegisterSnapshot::from(a_->vcpu().get_regs())};
      uint64_t rip = before_.regs.rip;
      uint32_t xa = 0, xb = 0;
      pair_.both([&](int i) { (i ? xb : xa) = (i ? b_ : a_)->single_step(); });
      ++res_.instructions_stepped;
      if (!res_.ran_to_touch) res_.instruction_index = steps + 1;
      if (natural(xa) || natural(xb)) {
        if (at_exit(rip, xa, xb)) return;
        continue;
      }
      if (xa != KVM_EXIT_DEBUG || xb != KVM_EXIT_DEBUG) {
        found(rip, "the instruction stops " + std::string(xa != KVM_EXIT_DEBUG ? "A" : "B") +
                       " (KVM exit reason " + std::to_string(xa != KVM_EXIT_DEBUG ? xa : xb) + ")");
        return;
      }
      if (auto d = compare_registers(*a_, *b_)) {
        found(rip, "registers differ after it: " + *d);
        res_.register_diff = *d;
        return;
      }
    }
    res_.summary += "; no differing instruction within " + std::to_string(opts_.max_steps) +
                    " single-steps after exit " + std::to_string(res_.last_common_exit);
    stop_stepping();
  }

  // Phase 3's shortcut (replay/first_touch.h): while the sides' memory
  // differs in few pages, none of which the CPU reads by itself, both run
  // with those pages trapped to the next instruction that touches a
  // differing byte, and complete it single-stepped. True when that settled
  // the search; false to single-step on from where both sides stand.
  bool run_to_touches() {
    if (!a_->vm() || !b_->vm()) return false;
    // Each round compares all of RAM and remaps it: a guest touching the
    // differing bytes over and over without a register changing (a compare
    // whose flags come out the same) is stepped through instead.
    constexpr int kMaxRounds = 64;
    for (int round = 0; round < kMaxRounds; ++round) {
      std::optional<DifferingMemory> diff =
          DifferingMemory::between(a_->session().ram(), b_->session().ram(), PageTrap::kMaxPages);
      if (!diff || diff->empty() || read_by_the_cpu(*diff)) return false;
      progress("run to differing memory", res_.last_common_exit);
      res_.ran_to_touch = true;
      std::optional<uint64_t> rip;
      try {
        rip = touch(*diff);
      } catch (const KvmError&) {  // KVM refused the memslots: stepping needs none
      }
      if (!rip) return back_to_interval_start();
      if (auto d = compare_registers(*a_, *b_)) {
        res_.register_diff = *d;
        found(*rip, "registers differ after it: " + *d);
        return true;
      }
    }
    return false;
  }

  // Whether the CPU may read a differing page without an instruction
  // naming it: a page table or descriptor table of either side.
  bool read_by_the_cpu(const DifferingMemory& diff) {
    std::vector<uint64_t> pages = diff.pages();
    for (Side* s : {a_.get(), b_.get()}) {
      std::optional<std::vector<uint64_t>> sys = system_pages(s->vcpu(), s->session().ram());
      if (!sys) return true;
      for (uint64_t p : pages)
        if (std::binary_search(sys->begin(), sys->end(), p)) return true;
    }
    return false;
  }

  // Both sides on to the next instruction touching `diff` and past it,
  // pages trapped meanwhile. Its address, or nullopt when the sides did not
  // stop alike before it (an exit first, a changed CR3): nothing is known
  // then of where they stand.
  std::optional<uint64_t> touch(const DifferingMemory& diff) {
    kvm_sregs start = a_->vcpu().get_sregs();
    PageTrap trap_a(*a_->vm(), a_->session().ram(), diff.pages());
    PageTrap trap_b(*b_->vm(), b_->session().ram(), diff.pages());
    TouchStop ta{}, tb{};
    pair_.both([&](int i) {
      (i ? tb : ta) =
          run_to_touch((i ? b_ : a_)->vcpu(), i ? trap_b : trap_a, diff, opts_.max_steps);
    });
    if (ta != TouchStop::kTouch || tb != TouchStop::kTouch) return std::nullopt;
    RegisterSnapshot here = RegisterSnapshot::from(a_->vcpu().get_regs());
    // A differing page the guest made a page table on the way would have
    // been walked by KVM as no memory at all (a page fault the real run
    // never takes): checked again here, where the sides stand.
    if (compare_registers(*a_, *b_) || !same_system_state(start, a_->vcpu().get_sregs()) ||
        !same_access(*a_->run(), *b_->run()) || read_by_the_cpu(diff))
      return std::nullopt;
    before_ = {a_->replayer().ordinal(), here};
    bool fa = false, fb = false;
    pair_.both([&](int i) {
      (i ? fb : fa) = finish_instruction((i ? b_ : a_)->vcpu(), i ? trap_b : trap_a);
    });
    ++res_.instructions_stepped;
    if (!fa || !fb) return std::nullopt;
    return here.rip;
  }

  static bool same_system_state(const kvm_sregs& x, const kvm_sregs& y) {
    return x.cr0 == y.cr0 && x.cr3 == y.cr3 && x.cr4 == y.cr4 && x.efer == y.efer &&
           x.gdt.base == y.gdt.base && x.gdt.limit == y.gdt.limit && x.idt.base == y.idt.base &&
           x.idt.limit == y.idt.limit && x.tr.base == y.tr.base && x.ldt.base == y.ldt.base;
  }

  // The same pending access to trapped memory; a write's data too (the
  // registers it comes from are equal, so it can only differ if read from
  // the differing bytes, which would have stopped the run before).
  static bool same_access(const kvm_run& x, const kvm_run& y) {
    return x.mmio.phys_addr == y.mmio.phys_addr && x.mmio.len == y.mmio.len &&
           x.mmio.is_write == y.mmio.is_write &&
           (!x.mmio.is_write || std::memcmp(x.mmio.data, y.mmio.data, x.mmio.len) == 0);
  }

  // Both sides at the last common exit again, past its interval's events,
  // for single-stepping. True when done (a side ends there).
  bool back_to_interval_start() {
    res_.ran_to_touch = false;
    res_.instruction_index.reset();
    for (Side* s : {a_.get(), b_.get()}) {
      s->session().forget_position();
      if (auto stop = s->session().seek({res_.last_common_exit, 0})) {
        (s == a_.get() ? res_.side_a_end : res_.side_b_end) = ending(*stop);
        found(s->vcpu().get_regs().rip, "replay stops going back to exit " +
                                            std::to_string(res_.last_common_exit) + ": " +
                                            ending(*stop));
        return true;
      }
    }
    return !enter_interval();
  }

  // Side A's session to the state before the divergent instruction: phase
  // 3 stepped outside the session's instruction count (its landmarks were
  // sought by free runs), so it is found again by stepping from the last
  // common exit to the first position with the same exit and registers.
  void position_at_divergence() {
    ReplaySession& s = a_->session();
    s.forget_position();
    if (s.seek({res_.last_common_exit, 0})) return;
    for (uint64_t n = 0; n <= opts_.max_steps; ++n) {
      if (s.replayer().ordinal() == before_.exit &&
          RegisterSnapshot::from(a_->vcpu().get_regs()).same_state(before_.regs)) {
        if (before_.exit == res_.last_common_exit) res_.instruction_index = n + 1;
        return;
      }
      if (s.step_instruction()) return;
    }
  }

  // Events due before the next exit (landmarks re-arm debug registers), then
  // single-stepping on. False if the side's replay ended there.
  bool between(Side& s) {
    if (auto stop = s.replayer().before_next_exit()) {
      (&s == a_.get() ? res_.side_a_end : res_.side_b_end) = ending(*stop);
      found(s.vcpu().get_regs().rip, "replay stops before the next exit: " + ending(*stop));
      return false;
    }
    s.set_single_step(true);
    return true;
  }

  // Both stepped; at least one made a natural exit. True when done.
  bool at_exit(uint64_t rip, uint32_t xa, uint32_t xb) {
    if (natural(xa) != natural(xb)) {
      found(rip, std::string(natural(xa) ? "A" : "B") + " makes an exit (" +
                     exit_kind(view_of(natural(xa) ? *a_ : *b_)) +
                     ") at this instruction and the other does not");
      return true;
    }
    if (auto d = compare_exits(view_of(*a_), view_of(*b_))) {
      found(rip, *d);
      return true;
    }
    auto ra = a_->replayer().handle_exit();
    auto rb = b_->replayer().handle_exit();
    // The replayers supplied read values: a differing one is the answer.
    if (auto d = compare_exits(view_of(*a_), view_of(*b_))) {
      found(rip, *d);
      return true;
    }
    if (ra || rb) {
      if (ra) res_.side_a_end = ending(*ra);
      if (rb) res_.side_b_end = ending(*rb);
      found(rip, ra && rb && ra->reason == rb->reason
                     ? "both executions end here"
                     : (rb ? b_alone_ends(*rb) : "A: " + res_.side_a_end));
      return true;
    }
    return !enter_interval();
  }

  // Both sides past the asynchronous events before their next exit. An
  // interrupt the recordings place differently shows here: the vCPUs stand
  // at different instructions or with different registers. False when done.
  bool enter_interval() {
    if (!between(*a_) || !between(*b_)) return false;
    if (auto d = compare_registers(*a_, *b_)) {
      res_.register_diff = *d;
      found(a_->vcpu().get_regs().rip,
            "the recordings interrupt the guest at different points: A " + last_async(*a_) +
                "; B " + last_async(*b_));
      return false;
    }
    return true;
  }

  static std::string last_async(Side& s) {
    const auto& ev = s.replayer().recent_events();
    std::string what;
    for (auto it = ev.rbegin(); it != ev.rend(); ++it) {
      if (it->event.kind == trace::EventKind::kInterrupt && it->event.at_landmark() && what.empty())
        what = "takes vector " + hex(it->event.vector());
      if (it->event.kind == trace::EventKind::kLandmark)
        return (what.empty() ? "stops" : what) + " at rip " + hex(it->landmark.rip) +
               " after exit " + std::to_string(it->event.ordinal);
    }
    return "has no asynchronous input there";
  }

  void found(uint64_t rip, const std::string& what) {
    // Not stepped (interrupts placed differently, a replay that stops
    // before the next exit): A stands at it now.
    RegisterSnapshot now = RegisterSnapshot::from(a_->vcpu().get_regs());
    if (before_.regs.rip != rip && now.rip == rip) before_ = {a_->replayer().ordinal(), now};
    res_.instruction_found = true;
    res_.rip = rip;
    res_.symbol = symbols_.describe(rip);
    res_.input = what;
    res_.disassembly = disassemble(rip);
    res_.recent_inputs_a = recent(*a_);
    res_.recent_inputs_b = recent(*b_);
    if (res_.register_diff.empty()) {
      if (auto d = compare_registers(*a_, *b_)) res_.register_diff = *d;
    }
    uint64_t total = 0;
    res_.divergence_pages = differing_pages(*a_, *b_, &total);
    res_.divergence_pages_total = total;
    stop_stepping();
  }

  void stop_stepping() {
    a_->set_single_step(false);
    b_->set_single_step(false);
  }

  // Code around `rip`, decoded from the enclosing symbol when it is near.
  std::vector<DisassembledInsn> disassemble(uint64_t rip) {
    uint64_t start = rip;
    if (auto sym = symbols_.lookup(rip); sym && rip - sym->addr <= 256) start = sym->addr;
    std::vector<uint8_t> code(rip - start + 64);
    code.resize(read_guest_code(a_->vcpu(), a_->session().ram(), start, code).value_or(0));
    return disassemble_around(code, start, rip);
  }

  const OpenBisectSide& open_;
  const GuestSymbols& symbols_;
  BisectOptions opts_;
  PairRunner pair_;
  std::unique_ptr<Side> a_, b_;
  BisectResult res_;
  struct {
    uint64_t exit = 0;
    RegisterSnapshot regs;
  } before_;  // side A before the instruction being stepped
};

}  // namespace

BisectResult bisect(const OpenBisectSide& open, const GuestSymbols& symbols,
                    const BisectOptions& opts) {
  return Bisector(open, symbols, opts).run();
}

BisectResult bisect(const BisectSideSpec& a, const BisectSideSpec& b, const GuestSymbols& symbols,
                    const BisectOptions& opts) {
  // Trace errors name their file already (trace::TraceReader); an image
  // that does not load is named here.
  OpenBisectSide open = [&](int side) -> std::unique_ptr<BisectReplay> {
    const BisectSideSpec& spec = side ? b : a;
    try {
      return std::make_unique<TraceReplay>(spec, opts);
    } catch (const ImageError& e) {
      throw e.with_file(spec.trace_path + ": embedded kernel");
    }
  };
  return bisect(open, symbols, opts);
}

}  // namespace rrvm
