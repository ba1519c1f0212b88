#include "tools/machine_options.h"

#include "firmware/load_error.h"
#include "tools/command.h"
#include "vmm/kvm.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

namespace rrvm::cli {

po::options_description machine_options() {
  po::options_description d("Machine options");
  d.add_options()(
      "kernel,k", po::value<std::string>()->value_name("FILE"),
      "guest kernel: a Multiboot image (ELF32/ELF64/a.out kludge), an ELF64 kernel or a "
      "Linux bzImage (required)")("initrd", po::value<std::string>()->value_name("FILE"),
                                  "initial ramdisk (a Multiboot module, or the Linux initrd)")(
      "cmdline", po::value<std::string>()->value_name("STR")->default_value(""),
      "kernel command line")("mem,m",
                             po::value<std::string>()->value_name("SIZE")->default_value("256M"),
                             "guest RAM, e.g. 64M, 1G (2M .. 64G)")(
      "serial", po::value<std::string>()->value_name("WHERE")->default_value("stdio"),
      "COM1 output: stdio, file:PATH or none")(
      "timeout", po::value<double>()->value_name("SEC")->default_value(0),
      "stop the guest after SEC host seconds (exit 124); 0 = no limit")(
      "strict-io", po::bool_switch(), "an access to an unmapped port or address is fatal")(
      "mptable", po::value<std::string>()->value_name("V")->default_value("fixed"),
      "MP table: fixed (PCI bus 0 + ISA bus 1 with PCI interrupt entries), kvm84 (the "
      "seed's broken one: ISA bus only, so an OS finds no PCI interrupts) or none")(
      "acpi", po::value<std::string>()->value_name("on|off")->default_value("on"),
      "ACPI tables: RSDP, RSDT/XSDT, FADT, FACS, MADT, DSDT")(
      "acpi-pic", po::value<std::string>()->value_name("on|off")->default_value("on"),
      "DSDT has the _PIC method (off: kvm-84's DSDT, where an OS cannot switch ACPI to "
      "APIC mode); off by itself when --acpi off")(
      "rtl8139-timer", po::value<std::string>()->value_name("on|off")->default_value("on"),
      "RTL8139C+ onboard timer (TCTR/TimerInt); off behaves as kvm-84, whose timer "
      "never fires")(
      "clock", po::value<std::string>()->value_name("C")->default_value("host"),
      "guest time: host (the host's clock; every read is recorded) or virtual (from the "
      "execution: each exit is 1 us, HLT skips to the next timer; a guest that waits "
      "through I/O or HLT then runs, and records, identically every time; only a guest "
      "spinning without exits still advances with host time)")(
      "net", po::value<std::string>()->value_name("B")->default_value("none"),
      "network back end: none, user (libslirp) or tap:IFNAME");
  return d;
}

void apply_override(MachineConfig& cfg, const std::string& key, const std::string& value) {
  try {
    cfg.set(key, value);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string(key == "mem" ? "--mem: " : "") + e.what());
  }
}

void resolve_acpi_pic(MachineConfig& cfg, bool acpi_pic_given) {
  if (!cfg.acpi && !acpi_pic_given) cfg.acpi_pic = false;
  if (cfg.acpi_pic && !cfg.acpi) {
    throw UsageError("--acpi-pic on needs --acpi on (there is no DSDT to hold _PIC)");
  }
}

void apply_machine_options(const po::variables_map& vm, MachineConfig& cfg) {
  if (!vm.count("kernel")) throw UsageError("--kernel FILE is required");
  cfg.kernel_path = vm["kernel"].as<std::string>();
  if (vm.count("initrd")) cfg.initrd_path = vm["initrd"].as<std::string>();
  for (const char* key :
       {"mem", "cmdline", "mptable", "acpi", "acpi-pic", "rtl8139-timer", "net", "clock"}) {
    apply_override(cfg, key, vm[key].as<std::string>());
  }
  if (cfg.mem_size < (2ull << 20) || cfg.mem_size > (64ull << 30)) {
    throw UsageError("--mem must be between 2M and 64G");
  }
  cfg.serial = vm["serial"].as<std::string>();
  if (cfg.serial != "stdio" && cfg.serial != "none" && cfg.serial.rfind("file:", 0) != 0) {
    throw UsageError("--serial takes stdio, none or file:PATH, not '" + cfg.serial + "'");
  }
  cfg.timeout_sec = vm["timeout"].as<double>();
  if (cfg.timeout_sec < 0) throw UsageError("--timeout must not be negative");
  cfg.strict_io = vm["strict-io"].as<bool>();
  resolve_acpi_pic(cfg, !vm["acpi-pic"].defaulted());
  try {
    validate_net_spec(cfg.net);
  } catch (const NetError& e) {
    throw UsageError(e.what());
  }
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError("error reading " + path + ": " + std::strerror(errno));
  return bytes;
}

int guard_guest_command(const std::function<int()>& body) {
  try {
    return body();
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const InputError& e) {
    return fail(kExitNoInput, e.what());
  } catch (const ImageError& e) {
    return fail(kExitDataErr, e.what());
  } catch (const KvmUnavailable& e) {
    return fail(kExitUnavailable, e.what());
  } catch (const NetError& e) {
    return fail(kExitUnavailable, std::string("network: ") + e.what());
  }
}

void connect_network(Machine& machine, const MachineConfig& cfg) {
  if (cfg.net == "none") return;
  machine.connect_network(make_net_backend(cfg.net, [](const std::string& msg) {
    std::cerr << "rrvm: warning: network: " << msg << "\n";
  }));
}

MachineImages read_images(const MachineConfig& cfg) {
  MachineImages images;
  images.kernel = read_file(cfg.kernel_path);
  if (!cfg.initrd_path.empty()) images.initrd = read_file(cfg.initrd_path);
  return images;
}

bool parse_args(const std::vector<std::string>& args, const po::options_description& desc,
                const po::positional_options_description& pos, po::variables_map& vm,
                const std::string& usage_line, const std::string& help_text) {
  po::options_description all;
  all.add(desc);
  all.add_options()("help,h", "show this help")(
      "config", po::value<std::string>()->value_name("FILE"),
      "read options from FILE (one key = value per line, same names as the flags)");
  try {
    po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << usage_line << "\n\n" << help_text << "\n" << all << "\n";
      return false;
    }
    if (vm.count("config")) {
      std::ifstream f(vm["config"].as<std::string>());
      if (!f) throw InputError("cannot read config file " + vm["config"].as<std::string>());
      po::store(po::parse_config_file(f, all), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

}  // namespace rrvm::cli
