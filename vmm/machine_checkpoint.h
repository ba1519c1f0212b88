// Machine checkpoints: the whole machine at an exit (DESIGN.md,
// Checkpoints and time travel) — the vCPU's KVM state (vmm/vcpu_state.h),
// every device's State (the board's DeviceStates), the board's stop
// request and CR8 mirror, the loop clock, the exit ordinal and the count of
// instructions rrvm completed for KVM, and guest RAM
// stored incrementally (vmm/ram_checkpoints.h). A restored checkpoint run
// forward reaches exactly the states a straight run reaches; the digests
// say so (tests/kvm/vmm_machine_checkpoint_test.cc).
//
// Not here: the replay position (which event is next) and the replay
// engine's own state (its dirty-page interval, pending timer advances),
// which belong to whoever drives the machine through a trace; and the
// host's side of the world (network back end, console output already
// written), which a re-execution does not take back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "vmm/board.h"
#include "vmm/device_states.h"
#include "vmm/host_clock.h"
#include "vmm/instruction_completion.h"
#include "vmm/ram_checkpoints.h"
#include "vmm/vcpu.h"
#include "vmm/vcpu_state.h"

namespace rrvm {

// Where the run loop's bookkeeping stands (Machine::run keeps it): natural
// exits made, instructions rrvm completed for KVM, and a completion whose
// exception KVM has not delivered yet (no interrupt may go in with it).
struct RunPosition {
  uint64_t exits = 0;
  CompletionCounts completions{};
  std::optional<Completion> exception_going_in;
};

// The parts of a machine a checkpoint covers, owned by whoever built them:
// a Machine (its KvmVcpu, RAM, PcBoard, loop clock), or a unit test's rig
// around a scripted vCPU.
struct MachineParts {
  Vcpu& vcpu;
  GuestRam& ram;
  Board& board;
  const DeviceStates& devices;
  LoopClock& clock;
  RunPosition& position;
};

// A machine's state in three digests, so a mismatch says where it is.
struct MachineDigest {
  uint64_t vcpu = 0;
  uint64_t devices = 0;  // every device's State, the stop request, the CR8 mirror
  uint64_t ram = 0;      // all of guest RAM (RamCheckpoints::digest)
  bool operator==(const MachineDigest&) const = default;
};

// "vCPU, RAM" for the parts where `a` and `b` differ; empty when equal.
std::string differing_parts(const MachineDigest& a, const MachineDigest& b);

class MachineCheckpoints {
 public:
  using Id = RamCheckpoints::Id;

  // Made before anything is written into the RAM (RamCheckpoints says why).
  explicit MachineCheckpoints(const MachineParts& parts);
  MachineCheckpoints(const MachineCheckpoints&) = delete;
  MachineCheckpoints& operator=(const MachineCheckpoints&) = delete;

  // The machine now, at exit position.exits. The vCPU must have no exit
  // pending: Machine::run() returned (paused, or before the first run), or
  // Vcpu::finish_pending_exit() returned true. Costs the RAM pages
  // written since the checkpoint the machine was last taken at or restored to.
  Id take();
  // Puts the whole machine back, its RunPosition included; the next
  // Machine::run() goes on from there, exit numbering included. An exit pending in the vCPU is
  // completed and discarded first. Writes back only the RAM pages that
  // can differ, and returns how many. Throws std::out_of_range for an
  // unknown id.
  size_t restore(Id id);
  // Forgets `id` and frees what only it held (its RAM pages pass to the
  // checkpoints taken from it): how a policy thins old checkpoints.
  void drop(Id id);

  MachineDigest digest(Id id) const { return at(id).digest; }
  // The digest of the machine now (same precondition as take()), storing
  // nothing: costs the RAM pages written since the last take or restore.
  MachineDigest digest_now();
  uint64_t exits(Id id) const { return at(id).exits; }
  // The devices whose states differ between two checkpoints, or between
  // a checkpoint and now, by name.
  std::vector<std::string> differing_devices(Id a, Id b) const;
  std::vector<std::string> differing_devices(Id a) const;

  size_t count() const { return checkpoints_.size(); }
  // Bytes held by all checkpoints: RAM pages (shared ones once), tables,
  // vCPU and device states.
  uint64_t bytes_used() const;
  const RamCheckpoints& ram() const { return ram_; }

 private:
  struct Checkpoint {
    uint64_t exits = 0;
    CompletionCounts completions{};  // VMM bookkeeping, not in the digest
    // A #BP a completion injected, not yet delivered: not in `vcpu`
    // (set_completion_events says why), so kept and put back here.
    std::optional<Completion> exception_going_in;
    VcpuState vcpu;
    DeviceStates::Snapshot devices;
    Board::State board;
    uint64_t clock_ns = 0;
    MachineDigest digest;
  };

  const Checkpoint& at(Id id) const;
  Checkpoint capture();
  uint64_t devices_digest(const Checkpoint& c) const;

  MachineParts m_;
  RamCheckpoints ram_;
  std::vector<uint32_t> msrs_;  // probed at the first checkpoint
  bool msrs_probed_ = false;
  std::unordered_map<Id, Checkpoint> checkpoints_;
};

}  // namespace rrvm
