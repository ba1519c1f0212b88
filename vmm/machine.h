// A PC-like machine under KVM: RAM, one vCPU, the board's devices, and the
// guest image loaded and ready to enter.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "devices/char_backend.h"
#include "vmm/cpu_model.h"
#include "vmm/exec_hooks.h"
#include "vmm/guest_ram.h"
#include "vmm/host_clock.h"
#include "vmm/instruction_completion.h"
#include "vmm/kvm.h"
#include "vmm/machine_checkpoint.h"
#include "vmm/machine_config.h"
#include "vmm/net_backend.h"
#include "vmm/run_result.h"

namespace rrvm {

class PcBoard;

// The clock devices hold a reference to; where its time comes from can be
// switched after the devices exist.
class ForwardingClock final : public Clock {
 public:
  uint64_t now_ns() override { return target->now_ns(); }
  Clock* target = nullptr;
};

// Guest images by content, so replay can supply them from a trace.
struct MachineImages {
  std::vector<uint8_t> kernel;
  std::vector<uint8_t> initrd;
};

// The CPU a trace recorded: the table the guest saw and, in traces that
// have it, the instruction probe of the host that recorded it.
struct RecordedCpu {
  std::vector<CpuidEntry> cpuid;
  std::optional<std::vector<ProbeResult>> probe;
};

class Machine {
 public:
  // Throws KvmUnavailable (no usable /dev/kvm; CpuUnavailable: the host
  // lacks a CPU feature), ImageError (bad kernel), std::invalid_argument
  // (bad configuration). The guest's CPUID is `recorded`'s table when given
  // (replay), else the one cfg.cpu names, built for this host.
  Machine(const MachineConfig& cfg, const MachineImages& images, CharSink& serial,
          const RecordedCpu* recorded = nullptr);
  ~Machine();

  // Runs to the end. `hooks` (recording) sees every input; set before run().
  void set_hooks(ExecHooks* hooks) { hooks_ = hooks; }
  // Devices read time through this; the recorder routes it through its
  // logging clock and the replayer through the trace. Default: loop_clock().
  void set_device_clock(Clock& clock) { device_clock_.target = &clock; }
  ForwardingClock& device_clock() { return device_clock_; }
  // Runs until the guest stops, or pauses (StopReason::kPaused) right
  // after natural exit `pause_after_exit` where a checkpoint can be taken;
  // run() again to go on. 0: no pause.
  RunResult run(uint64_t pause_after_exit = 0);
  // Natural exits made so far: the machine's position.
  uint64_t exits() const { return pos_.exits; }
  // Instructions rrvm completed for KVM so far (vmm/instruction_completion.h).
  const CompletionCounts& completions() const { return pos_.completions; }
  // Snapshots of this machine (vmm/machine_checkpoint.h).
  MachineCheckpoints& checkpoints() { return *checkpoints_; }
  // Connects the NIC to a host network (run and record; replay never does:
  // it feeds the recorded frames instead). No-op without a NIC.
  void connect_network(std::unique_ptr<NetBackend> net);

  KvmVcpu& vcpu() { return vcpu_; }
  GuestRam& ram() { return ram_; }
  PcBoard& board() { return *board_; }
  const std::vector<CpuidEntry>& cpuid() const { return cpuid_; }
  const HostProbe& host_probe() const { return host_.probe; }
  // Why a recorded CPU may not replay here although it was accepted.
  const std::vector<std::string>& cpu_warnings() const { return cpu_warnings_; }
  const MachineConfig& config() const { return cfg_; }
  KvmVm& vm() { return vm_; }
  LoopClock& loop_clock() { return *clock_; }

 private:
  void load_kernel(const MachineImages& images);
  void set_up_cpu(const RecordedCpu* recorded);
  bool route_apic_msrs();

  MachineConfig cfg_;
  Kvm kvm_;
  KvmVm vm_;
  GuestRam ram_;
  KvmVcpu vcpu_;
  std::unique_ptr<LoopClock> clock_;  // --clock host | virtual
  ForwardingClock device_clock_;
  HostCpu host_;
  std::vector<CpuidEntry> cpuid_;
  std::vector<std::string> cpu_warnings_;
  std::unique_ptr<PcBoard> board_;
  ExecHooks* hooks_ = nullptr;
  std::unique_ptr<NetBackend> net_;
  // Where run() stopped (a pause right after a completion whose exception
  // KVM has not delivered included); checkpoints restore it.
  RunPosition pos_;
  // Made before anything is loaded: it must see every write to the RAM.
  std::unique_ptr<MachineCheckpoints> checkpoints_;
};

}  // namespace rrvm
