// The CLI side of the machine option table (vmm/machine_config.h): Boost
// options generated from its rows for run, record and tables, applying them
// to a MachineConfig, bisect's --override, and the shared helpers of the
// guest-booting commands. Also reads the option file (--config).
#pragma once

#include <boost/program_options.hpp>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tools/error_policy.h"
#include "vmm/machine.h"
#include "vmm/machine_config.h"

namespace rrvm::cli {

namespace po = boost::program_options;

// Every row of the machine option table as a --flag with its default and
// help (run, record).
po::options_description machine_options();
// Only the rows named by `keys` (rrvm tables).
po::options_description machine_options(std::initializer_list<std::string_view> keys,
                                        const std::string& caption);

// Applies every table option `vm` holds (given or defaulted) to `cfg`, then
// the --acpi-pic rule; throws UsageError naming the option, the value and
// what it accepts.
void apply_machine_options(const po::variables_map& vm, MachineConfig& cfg);
// run/record: all of the above, and --kernel is required.
MachineConfig guest_config(const po::variables_map& vm);

// One table row from the command line (--serial for replay): UsageError on
// a bad value.
void apply_option(MachineConfig& cfg, std::string_view key, std::string_view value);

// --json for run, record and replay: a JSON summary on stdout, where the
// guest's serial output would otherwise go.
po::options_description json_summary_option();
// Whether --json was given; if so and --serial was not, serial output is off.
bool wants_json_summary(const po::variables_map& vm, MachineConfig& cfg);

// --acpi off turns _PIC off too unless --acpi-pic was given; _PIC without
// ACPI is a UsageError. Shared by run/record, tables and bisect --override.
void resolve_acpi_pic(MachineConfig& cfg, bool acpi_pic_given);

// bisect's --override KEY=VALUE: a machine-shape key only.
void apply_override(MachineConfig& cfg, const std::string& key, const std::string& value);

// A non-negative integer option (--until N, --from N): po::value<Count>().
// Boost's own unsigned parsing takes "-1" as 2^64-1; this refuses anything
// but decimal digits with a usage error naming the option.
struct Count {
  uint64_t value = 0;
};
void validate(boost::any& store, const std::vector<std::string>& tokens, Count*, int);

// The whole of `path`, at most `limit` bytes, through the one input-file
// helper (trace/input_file.h): InputError naming `what` ("kernel", "config
// file"), the path and the reason when it cannot be read or is not a
// regular file (a FIFO, a directory, a device), DataError when it holds
// more than `limit`.
std::vector<uint8_t> read_file(const std::string& path, uint64_t limit, const std::string& what);

// Reads kernel and initrd named by cfg; DataError (65) when they do not fit
// in guest RAM together.
MachineImages read_images(const MachineConfig& cfg);

// Opens the host network --net names and connects the machine's NIC to it
// (run and record). Throws NetError (exit 69).
void connect_network(Machine& machine, const MachineConfig& cfg);

// Prints what the machine's CPU set-up warned about ("rrvm: warning: ...").
void print_cpu_warnings(const Machine& machine);

// Parses args against `desc` (+ positional), handles --help, --config FILE.
// Returns false when help was printed. Throws UsageError.
bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                const po::positional_options_description& pos, po::variables_map& vm,
                const std::string& usage_line, const std::string& help_text);

}  // namespace rrvm::cli
