// Everything that defines a machine, and the one table of machine options
// (machine_option_table()) that drives all of it: the fields' defaults, the
// trace header's key/value pairs (to_pairs/set), the CLI's --flags and their
// help (tools/machine_options.h), `rrvm tables`, bisect --override, and the
// list of known keys in errors. Adding an option is one field here and one
// row in the table (vmm/machine_config.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firmware/mptable.h"
#include "vmm/option_value.h"

namespace rrvm {

enum class ClockMode { kHost, kVirtual };  // see vmm/host_clock.h
enum class CpuModel { kRrvm64, kHost };    // rrvm's own model, or KVM's CPUID masked
enum class NetKind { kNone, kUser, kTap };
enum class SerialKind { kStdio, kFile, kNone };

std::string_view to_string(ClockMode mode);
std::string_view to_string(CpuModel model);
std::string_view to_string(NetKind kind);
std::string_view to_string(SerialKind kind);

struct NetConfig {
  NetKind kind;
  std::string spec;  // the whole --net text, e.g. "user,hostfwd=tcp::2222-:22"
};

struct SerialConfig {
  SerialKind kind;
  std::string path;  // kFile
};

struct MachineConfig {
  // Every option at its table default.
  MachineConfig();

  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint64_t mem_size;
  MpTableVariant mptable;
  bool acpi;
  bool acpi_pic;
  bool rtl8139_timer;
  NetConfig net;
  uint64_t rtc_epoch;  // seconds since 1970 at power-on
  ClockMode clock;
  CpuModel cpu;
  bool pc_testdev;      // QEMU's pc-testdev (kvm-unit-tests)
  bool hpet;            // the HPET at 0xFED00000
  SerialConfig serial;  // COM1 output
  double timeout_sec;   // 0: no limit (host seconds)
  bool strict_io;       // an access to an unmapped port/address is fatal

  // The machine-shape options (OptionScope::kMachine) in table order, which
  // is the order traces have always stored them in: what must be equal for
  // two runs to be comparable.
  std::vector<std::pair<std::string, std::string>> to_pairs() const;
  // Sets one machine-shape option by its key (the trace header, bisect's
  // --override). Throws ConfigError naming the key, the value and what is
  // accepted, or, for a key that is not a machine-shape option, the keys
  // that are. Host options (paths, serial, timeout) are never set this way:
  // a trace must not choose where rrvm writes.
  void set(std::string_view key, std::string_view value);
};

enum class OptionScope {
  kMachine,  // the machine's shape: stored in the trace header, set by bisect --override
  kHost,     // how this run is hosted: image paths, serial output, time limit (run/record)
};

// One machine option. parse validates the text and stores it (throws
// ConfigError); format gives back the text parse takes (kMachine only).
struct MachineOption {
  using ParseFn = std::function<void(MachineConfig&, std::string_view key, std::string_view text)>;
  using FormatFn = std::function<std::string(const MachineConfig&)>;

  std::string_view key;         // --key on the command line, the key in the trace header
  char short_name;              // -k for --kernel; 0: none
  std::string_view value_name;  // SIZE, on|off, ...
  const char* default_value;    // nullptr: absent unless given (kernel, initrd)
  const char* implicit_value;   // the value of a bare --key (on for on|off), or nullptr
  std::string_view help;
  OptionScope scope;
  ParseFn parse;
  FormatFn format;
  // What a trace recorded before this key existed had (nullptr: the
  // default). A device added later is off in such a trace: its guest never
  // saw it, so its replay must not either.
  const char* absent_from_trace = nullptr;
};

// Every option, machine-shape ones in to_pairs() order.
std::span<const MachineOption> machine_option_table();
// The row for `key`, or nullptr.
const MachineOption* find_machine_option(std::string_view key);
// "mem, cmdline, mptable, ..." (the machine-shape keys, for error messages).
std::string machine_option_keys();

}  // namespace rrvm
