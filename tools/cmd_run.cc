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
    "Serial output goes to stdout; rrvm's own messages go to stderr.";

// Runs a machine built from `cfg`; shared by run and (with hooks) record.
int boot(const MachineConfig& cfg) {
  MachineImages images = read_images(cfg);
  auto serial = open_serial(cfg.serial);
  Kicker::install_stop_signals();
  Machine machine(cfg, images, *serial);
  connect_network(machine, cfg);
  return report_run_result(machine.run());
}

int cmd_run(const std::vector<std::string>& args) {
  return guard_guest_command([&] {
    po::variables_map vm;
    if (!parse_args(args, machine_options(), {}, vm, "rrvm run --kernel FILE [options]", kHelp)) {
      return int(kExitOk);
    }
    MachineConfig cfg;
    apply_machine_options(vm, cfg);
    return boot(cfg);
  });
}

}  // namespace

RRVM_COMMAND("run", "boot a guest (Multiboot, ELF64 or bzImage) under KVM", cmd_run);

}  // namespace rrvm::cli
