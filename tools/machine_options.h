// Machine options shared by run, record and (as overrides) bisect, parsed
// with Boost.Program_options. Also reads the option file (--config).
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <vector>

#include "vmm/machine.h"
#include "vmm/machine_config.h"

namespace rrvm::cli {

namespace po = boost::program_options;

// --kernel, --initrd, --cmdline, --mem, --serial, --timeout, --strict-io and
// the platform knobs (--mptable, --acpi, --acpi-pic, --rtl8139-timer, --net).
po::options_description machine_options();

// Fills `cfg` from parsed options; throws UsageError on an inconsistent or
// malformed value.
void apply_machine_options(const po::variables_map& vm, MachineConfig& cfg);

// --acpi off turns _PIC off too unless --acpi-pic was given; _PIC without
// ACPI is a UsageError. Shared by run/record, tables and bisect --override.
void resolve_acpi_pic(MachineConfig& cfg, bool acpi_pic_given);

// One key=value override (bisect's --override, the config file).
void apply_override(MachineConfig& cfg, const std::string& key, const std::string& value);

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct InputError : std::runtime_error {  // missing/unreadable input file (exit 66)
  using std::runtime_error::runtime_error;
};

// Whole file or InputError naming the path and errno text.
std::vector<uint8_t> read_file(const std::string& path);

// Runs `body`, turning the errors every guest-booting command shares into
// their exit statuses: usage 64, missing input 66, bad image 65, no KVM 69.
int guard_guest_command(const std::function<int()>& body);

// Reads kernel and initrd named by cfg.
MachineImages read_images(const MachineConfig& cfg);

// Opens the host network --net names and connects the machine's NIC to it
// (run and record). Throws NetError (exit 69 through guard_guest_command).
void connect_network(Machine& machine, const MachineConfig& cfg);

// Parses args against `desc` (+ positional), handles --help, --config FILE.
// Returns false when help was printed.
bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                const po::positional_options_description& pos, po::variables_map& vm,
                const std::string& usage_line, const std::string& help_text);

}  // namespace rrvm::cli
