// rrvm run: boot a guest under KVM and wait for it to finish.
#include <iostream>

#include "tools/command.h"
#include "tools/machine_options.h"
#include "tools/run_status.h"
#include "tools/serial_sink.h"
#include "vmm/kicker.h"
#include "vmm/machine.h"

namespace rrvm::cli {
namespace {

constexpr const char* kHelp =
    "Boots a guest kernel under KVM with rrvm's userspace PC devices.\n"
    "The exit status is the value the guest wrote to the isa-debug-exit port 0xf4, as\n"
    "(value << 1) | 1 (QEMU's convention), or: 64 usage error, 65 invalid kernel\n"
    "image, 66 missing input file, 69 /dev/kvm unusable or the --net network could\n"
    "not be opened, 70 guest crash (triple fault, emulation failure, HLT with\n"
    "interrupts off), 124 --timeout reached. A guest that powers off through ACPI\n"
    "S5 exits 0.\n"
    "Serial output goes to stdout; rrvm's own messages go to stderr.\n\n"
    "CPU: the guest's CPUID comes from --cpu, never from the host CPU rrvm runs on.\n"
    "Some hosts' KVM lists features its ring-0 instruction emulator cannot execute\n"
    "(nested hosts: cmpxchg16b, xsave, clac, popcnt...). On first use rrvm runs a\n"
    "tiny ring-0 probe guest that tries each such instruction and caches the answer\n"
    "in $XDG_CACHE_HOME/rrvm (else ~/.cache/rrvm; without a writable cache it probes\n"
    "on every run). --cpu host hides what failed; rrvm64 is refused (exit 69, the\n"
    "features named) on a host that lacks one of its features. The probe is stored\n"
    "in every trace (`rrvm info` shows it). int3, fwait, clac/stac, popcnt between\n"
    "registers, ldmxcsr and the integer SSE of Linux's blake2s (movd/movq, packed\n"
    "add/sub/logic/compare, pshufb, pshufd, unpacks, shifts), which such\n"
    "emulators also fail on, rrvm completes itself.";

int boot(const MachineConfig& cfg, bool json) {
  MachineImages images = read_images(cfg);
  auto serial = open_serial(cfg.serial);
  Kicker::install_stop_signals();
  Machine machine(cfg, images, *serial);
  print_cpu_warnings(machine);
  connect_network(machine, cfg);
  RunResult r = machine.run();
  note_completions(r.completions);
  int status = report_run_result(r);
  if (json) print_run_json(r, status);
  return status;
}

int cmd_run(const std::vector<std::string>& args) {
  po::options_description desc;
  desc.add(machine_options()).add(json_summary_option());
  po::variables_map vm;
  if (!parse_args(args, desc, {}, vm, "rrvm run --kernel FILE [options]", kHelp)) {
    return kExitOk;
  }
  MachineConfig cfg = guest_config(vm);
  bool json = wants_json_summary(vm, cfg);
  return boot(cfg, json);
}

}  // namespace

RRVM_COMMAND("run", "boot a guest (Multiboot, ELF64 or bzImage) under KVM", cmd_run);

}  // namespace rrvm::cli
