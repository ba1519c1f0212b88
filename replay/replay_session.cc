#include "replay/replay_session.h"

#include <stdexcept>

#include "replay/single_step.h"
#include "vmm/kicker.h"
#include "vmm/pc_board.h"

namespace rrvm {

std::string SessionPosition::text() const {
  return "exit " + std::to_string(exit) + ", instruction " + std::to_string(steps);
}

namespace {
class DiscardSink final : public CharSink {
 public:
  void write(uint8_t) override {}
};
DiscardSink g_discard;

SessionMachine parts_of(Machine& m) {
  return {m.vcpu(), m.ram(), m.board().board(), m.device_clock(), m.checkpoints()};
}
}  // namespace

ReplaySession::ReplaySession(trace::TraceReader& reader, const MachineConfig& cfg,
                             const MachineImages& images, CharSink& serial,
                             const ReplayOptions& opts, const CheckpointPolicy& policy,
                             const RecordedCpu* cpu)
    : serial_(serial),
      owned_(std::make_unique<Machine>(cfg, images, serial_, cpu)),
      reader_source_(std::make_unique<trace::ReaderSource>(reader)),
      m_(parts_of(*owned_)),
      policy_(policy) {
  start(*reader_source_, opts);
}

ReplaySession::ReplaySession(trace::EventSource& events, const SessionMachine& machine,
                             const ReplayOptions& opts, const CheckpointPolicy& policy)
    : serial_(g_discard), m_(machine), policy_(policy) {
  start(events, opts);
}

void ReplaySession::start(trace::EventSource& events, const ReplayOptions& opts) {
  dirty_ = std::make_unique<DirtyTracker>(m_.ram);
  replayer_ = std::make_unique<Replayer>(events, m_.vcpu, m_.ram, m_.board, *dirty_, opts);
  devices_read_ = m_.device_clock.target;
  m_.device_clock.target = &replayer_->device_clock();
  replayer_->set_user_debug(&run_debug_);
  take(0);  // the start: every seek has a checkpoint at or before it
}

ReplaySession::~ReplaySession() {
  m_.device_clock.target = devices_read_;
}

Machine& ReplaySession::machine() {
  if (!owned_) throw std::logic_error("this replay session runs on a machine given in parts");
  return *owned_;
}

std::optional<SessionPosition> ReplaySession::position() const {
  if (!known_) return std::nullopt;
  return SessionPosition{replayer_->ordinal(), steps_};
}

bool ReplaySession::at_end() const {
  return end_ && known_ && SessionPosition{replayer_->ordinal(), steps_} >= end_pos_;
}

// A stop that is the end of the replay (not a breakpoint or an interrupt)
// is remembered with its position: moving forward from there returns it.
std::optional<RunResult> ReplaySession::ended(std::optional<RunResult> r) {
  if (!r) return r;
  if (r->reason == StopReason::kBreakpoint || r->reason == StopReason::kInterrupted) {
    known_ = false;
    return r;
  }
  known_ = true;
  end_ = r;
  end_pos_ = {replayer_->ordinal(), steps_};
  return r;
}

std::optional<RunResult> ReplaySession::next_exit() {
  if (at_end()) return end_;
  replayer_->set_stepping(false);
  if (auto stop = replayer_->step()) return ended(stop);
  steps_ = 0;
  known_ = true;
  maybe_checkpoint();
  return std::nullopt;
}

RunResult ReplaySession::run() {
  for (;;) {
    if (auto stop = next_exit()) return *stop;
  }
}

std::optional<RunResult> ReplaySession::step_instruction(uint64_t* dr6) {
  if (dr6) *dr6 = 0;
  if (at_end()) return end_;
  // The landmark the vCPU stands on, and the interrupt recorded there.
  replayer_->set_stepping(true);
  std::optional<RunResult> stop = replayer_->before_next_exit();
  replayer_->set_stepping(false);
  if (stop) return ended(stop);
  vcpu().set_guest_debug(guest_debug(step_debug_, std::nullopt, true));
  uint32_t reason = rrvm::step_instruction(vcpu(), m_.ram, step_debug_);
  if (dr6 && reason == KVM_EXIT_DEBUG) *dr6 = vcpu().run_area()->debug.arch.dr6;
  vcpu().set_guest_debug(kvm_guest_debug{});
  replayer_->set_user_debug(&run_debug_);  // the next run arms them again
  if (reason == KVM_EXIT_DEBUG) {
    ++steps_;
    return std::nullopt;
  }
  // The instruction made an exit (or the guest stopped): replay handles it.
  if (auto s = replayer_->handle_exit()) return ended(s);
  while (!replayer_->complete_exit()) {  // string I/O went on to its next chunk
    if (auto s = replayer_->step()) return ended(s);
  }
  steps_ = 0;
  known_ = true;
  maybe_checkpoint();
  return std::nullopt;
}

std::optional<RunResult> ReplaySession::seek(SessionPosition p) {
  auto cp = std::prev(saved_.upper_bound(p.exit));
  std::optional<SessionPosition> here = position();
  bool forward = here && *here <= p && cp->first <= here->exit;
  if (!forward) restore(cp->first);
  // Nothing the debugger armed stops a seek.
  UserDebugRegs none;
  replayer_->set_user_debug(&none);
  std::optional<RunResult> stop;
  while (!stop && replayer_->ordinal() < p.exit) stop = next_exit();
  while (!stop && replayer_->ordinal() == p.exit && steps_ < p.steps) stop = step_instruction();
  replayer_->set_user_debug(&run_debug_);
  return stop;
}

std::optional<uint64_t> ReplaySession::interval_length(uint64_t exit) {
  if (auto it = interval_steps_.find(exit); it != interval_steps_.end()) return it->second;
  if (seek({exit, 0})) return std::nullopt;
  uint64_t n = 0;
  while (replayer_->ordinal() == exit) {
    if (step_instruction()) return std::nullopt;
    ++n;
  }
  interval_steps_[exit] = n;
  return n;
}

void ReplaySession::set_user_debug(const UserDebugRegs& run, const UserDebugRegs& step_watch) {
  run_debug_ = run;
  step_debug_ = step_watch;
  replayer_->set_user_debug(&run_debug_);
}

void ReplaySession::maybe_checkpoint() {
  uint64_t n = replayer_->ordinal();
  bool by_exits = policy_.every_exits && n % policy_.every_exits == 0;
  bool by_time = policy_.every_seconds > 0 &&
                 Kicker::monotonic_ns() - last_take_ns_ >= uint64_t(policy_.every_seconds * 1e9);
  if ((!by_exits && !by_time) || saved_.count(n)) return;
  // Completing the exit can run into the next one (string I/O): then no
  // checkpoint here, the next due one is taken instead.
  if (!replayer_->complete_exit()) return;
  take(n);
  thin();
}

bool ReplaySession::take_checkpoint() {
  if (!known_ || steps_ || at_end() || !replayer_->complete_exit()) return false;
  take(replayer_->ordinal());
  thin();
  return true;
}

void ReplaySession::take(uint64_t exit) {
  Saved s{m_.checkpoints.take(), replayer_->save_position(), serial_.written_};
  saved_.insert_or_assign(exit, std::move(s));
  last_take_ns_ = Kicker::monotonic_ns();
}

// Over budget: drop the checkpoint that covers least, weighing age: the
// gap its removal leaves between its neighbours, divided by how far it is
// from the newest. Old checkpoints thin out first, recent ones stay dense;
// the start and the newest are kept.
void ReplaySession::thin() {
  while (saved_.size() > 2 && checkpoint_bytes() > policy_.memory_bytes) {
    uint64_t newest = saved_.rbegin()->first;
    auto best = saved_.end();
    double best_score = 0;
    for (auto it = std::next(saved_.begin()); std::next(it) != saved_.end(); ++it) {
      double gap = double(std::next(it)->first - std::prev(it)->first);
      double score = gap / double(newest - it->first + 1);
      if (best == saved_.end() || score < best_score) {
        best = it;
        best_score = score;
      }
    }
    m_.checkpoints.drop(best->second.id);
    saved_.erase(best);
  }
}

void ReplaySession::restore(uint64_t exit) {
  const Saved& s = saved_.at(exit);
  m_.checkpoints.restore(s.id);
  replayer_->restore_position(s.replay);
  vcpu().set_guest_debug(kvm_guest_debug{});
  serial_.written_ = s.serial_written;
  steps_ = 0;
  known_ = true;
}

std::vector<uint64_t> ReplaySession::checkpoint_exits() const {
  std::vector<uint64_t> out;
  for (const auto& [exit, s] : saved_) out.push_back(exit);
  return out;
}

void ReplaySession::settle() {
  while (!at_end() && !replayer_->complete_exit()) {
    if (ended(replayer_->step())) return;
  }
}

MachineDigest ReplaySession::digest_now() {
  settle();
  return m_.checkpoints.digest_now();
}

std::optional<MachineDigest> ReplaySession::checkpoint_digest(uint64_t exit) const {
  auto it = saved_.find(exit);
  if (it == saved_.end()) return std::nullopt;
  return m_.checkpoints.digest(it->second.id);
}

ReplaySummary ReplaySession::summary(const RunResult& r) {
  ReplaySummary s;
  s.result = r;
  s.stats = replayer_->stats();
  s.final_memory_digest = dirty_->run_digest();
  s.final_register_digest = RegisterSnapshot::from(vcpu().get_regs()).digest();
  return s;
}

}  // namespace rrvm
