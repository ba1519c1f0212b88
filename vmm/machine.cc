#include "vmm/machine.h"

#include "firmware/elf.h"
#include "firmware/linux_boot.h"
#include "firmware/load_error.h"
#include "firmware/multiboot.h"
#include "vmm/cpu_features.h"
#include "vmm/machine_checkpoint.h"
#include "vmm/pc_board.h"
#include "vmm/vcpu_loop.h"
#include "vmm/x86_boot.h"

namespace rrvm {

namespace {
// Six pages for the identity map of ELF64 entries, in conventional memory
// below the EBDA and clear of the Multiboot info area.
constexpr uint64_t kLongModePageTables = 0x70000;
}  // namespace

Machine::Machine(const MachineConfig& cfg, const MachineImages& images, CharSink& serial,
                 const RecordedCpu* recorded)
    : cfg_(cfg), vm_(kvm_), ram_(cfg.mem_size), vcpu_(kvm_, vm_, 0) {
  ram_.attach(vm_, /*log_dirty=*/true);
  if (cfg_.clock == ClockMode::kVirtual) {
    clock_ = std::make_unique<VirtualClock>();
  } else {
    clock_ = std::make_unique<HostClock>();
  }
  device_clock_.target = clock_.get();
  board_ = std::make_unique<PcBoard>(cfg_, ram_, device_clock_, serial);
  // The board writes nothing into RAM until setup_firmware().
  checkpoints_ = std::make_unique<MachineCheckpoints>(
      MachineParts{vcpu_, ram_, board_->board(), board_->states(), *clock_, pos_});
  set_up_cpu(recorded);
  board_->setup_firmware(cfg_, ram_);
  load_kernel(images);
}

// The host is asked (and its answer cached) even for replay: the recorded
// table must be one this host can show the guest. What the guest sees is
// read back after KVM_SET_CPUID2 (nested KVM adds host bits of its own) and
// is what the trace stores.
void Machine::set_up_cpu(const RecordedCpu* recorded) {
  host_.supported = kvm_.supported_cpuid();
  host_.probe = probe_host(kvm_, host_.supported);
  host_.x2apic_modelled = route_apic_msrs();
  std::vector<CpuidEntry> given;
  CpuOrigin origin = CpuOrigin::kModel;
  if (recorded) {
    const std::vector<ProbeResult>* probe = recorded->probe ? &*recorded->probe : nullptr;
    cpu_warnings_ = check_recorded_cpuid(recorded->cpuid, probe, host_);
    given = recorded->cpuid;
    origin = probe ? CpuOrigin::kTrace : CpuOrigin::kOldTrace;
  } else {
    given = model_cpuid(cfg_.cpu, host_, board_->layout().bsp_lapic_id);
  }
  try {
    vcpu_.set_cpuid(given);
  } catch (const KvmError& e) {
    if (!recorded) throw;
    // A table this KVM will not take at all: as for one it would show the
    // guest otherwise (check_guest_view), the trace's CPU is not this host's.
    throw CpuUnavailable(std::string("this host's KVM refuses the CPU the trace recorded (") +
                         e.what() + "); replay it on a host like the recording's");
  }
  cpuid_ = vcpu_.get_cpuid();
  for (std::string& w : check_guest_view(given, cpuid_, origin, host_))
    cpu_warnings_.push_back(std::move(w));
  // The APIC base's reserved bits and whether EXTD may be set follow what
  // CPUID shows (SDM vol. 3A, 11.4.4 and 11.12.1).
  board_->lapic().set_cpu_features(
      {physical_address_bits(cpuid_).value_or(36),
       has_feature(cpuid_, *find_cpu_feature("x2apic")) && host_.x2apic_modelled});
  // Without this KVM honours its paravirtual MSRs (kvmclock, steal time,
  // async PF) even when CPUID does not offer them (api.rst,
  // KVM_CAP_ENFORCE_PV_FEATURE_CPUID); the host would write guest memory.
  if (kvm_.check_extension(KVM_CAP_ENFORCE_PV_FEATURE_CPUID) > 0)
    vcpu_.enable_cap(KVM_CAP_ENFORCE_PV_FEATURE_CPUID, 1);
}

// RDMSR/WRMSR of IA32_APIC_BASE (filtered) and of the x2APIC MSRs 0x800-0x8FF
// exit to rrvm's LAPIC. KVM ignores filters over the x2APIC range (api.rst,
// KVM_X86_SET_MSR_FILTER) and, with no LAPIC of its own, fails those
// accesses: KVM_MSR_EXIT_REASON_INVAL brings them here. UNKNOWN brings MSRs
// KVM does not know too, which rrvm answers with #GP whatever the host's
// kvm.ignore_msrs says. False when this KVM cannot do it (then no x2APIC).
bool Machine::route_apic_msrs() {
  if (kvm_.check_extension(KVM_CAP_X86_USER_SPACE_MSR) <= 0 ||
      kvm_.check_extension(KVM_CAP_X86_MSR_FILTER) <= 0)
    return false;
  vm_.enable_cap(KVM_CAP_X86_USER_SPACE_MSR, KVM_MSR_EXIT_REASON_INVAL |
                                                 KVM_MSR_EXIT_REASON_UNKNOWN |
                                                 KVM_MSR_EXIT_REASON_FILTER);
  const std::pair<uint32_t, uint32_t> apic_msrs[] = {
      {Lapic::kMsrApicBase, 1},
      {Lapic::kMsrX2apicFirst, Lapic::kMsrX2apicLast - Lapic::kMsrX2apicFirst + 1}};
  vm_.deny_msrs(apic_msrs);
  return true;
}

Machine::~Machine() = default;

void Machine::load_kernel(const MachineImages& images) {
  if (is_multiboot(images.kernel)) {
    MultibootOptions opts;
    opts.cmdline = cfg_.cmdline;
    if (!images.initrd.empty()) opts.modules.push_back({images.initrd, cfg_.initrd_path});
    LoadedImage img = load_multiboot(images.kernel, opts, ram_);
    enter_multiboot(vcpu_, static_cast<uint32_t>(img.entry), img.info_addr);
    return;
  }
  if (is_bzimage(images.kernel) || is_pvh_elf(images.kernel)) {
    // Linux boot protocol (firmware/linux_boot.h): a bzImage enters its
    // 64-bit entry with RSI = zero page; a PVH vmlinux enters in 32-bit flat
    // mode with EBX = hvm_start_info, the same state as a Multiboot entry.
    LoadedImage img = load_linux(images.kernel, images.initrd, cfg_.cmdline, ram_);
    if (img.long_mode_entry) {
      enter_long_mode(vcpu_, ram_, kLongModePageTables, img.entry, img.info_addr);
    } else {
      enter_multiboot(vcpu_, static_cast<uint32_t>(img.entry), img.info_addr);
    }
    return;
  }
  LoadedImage img = load_elf64(images.kernel, ram_);
  enter_long_mode(vcpu_, ram_, kLongModePageTables, img.entry, 0);
}

void Machine::connect_network(std::unique_ptr<NetBackend> net) {
  net_ = std::move(net);
  if (Rtl8139* nic = board_->nic()) {
    NetBackend* backend = net_.get();
    nic->set_tx_sink([backend](std::span<const uint8_t> frame) {
      if (backend) backend->send(frame);
    });
  }
}

RunResult Machine::run(uint64_t pause_after_exit) {
  // Console input comes from stdin when the console is stdio.
  int console_fd = cfg_.serial.kind == SerialKind::kStdio ? 0 : -1;
  LoopOptions opts;
  opts.timeout_sec = cfg_.timeout_sec;
  opts.strict_io = cfg_.strict_io;
  opts.console_fd = console_fd;
  opts.net = net_.get();
  opts.first_exit = pos_.exits;
  opts.first_completions = pos_.completions;
  opts.exception_going_in = pos_.exception_going_in;
  opts.pause_after_exit = pause_after_exit;
  VcpuLoop loop(vcpu_, ram_, board_->board(), *clock_, opts, hooks_);
  RunResult r = loop.run();
  pos_ = {loop.exits(), loop.completions(), loop.exception_going_in()};
  return r;
}

}  // namespace rrvm
