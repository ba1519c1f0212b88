#include "tools/machine_options.h"

#include <iostream>
#include <sstream>

#include "tools/command.h"
#include "trace/input_file.h"

namespace rrvm::cli {

namespace {

// A config file holds a few options; anything this large is not one.
constexpr uint64_t kMaxConfigBytes = 1 << 20;

void add_option(po::options_description& d, const MachineOption& o) {
  std::string name(o.key);
  if (o.short_name) name += std::string(",") + o.short_name;
  auto* v = po::value<std::string>()->value_name(std::string(o.value_name));
  if (o.default_value) v->default_value(o.default_value);
  if (o.implicit_value) v->implicit_value(o.implicit_value);
  d.add_options()(name.c_str(), v, std::string(o.help).c_str());
}

}  // namespace

po::options_description machine_options() {
  po::options_description d("Machine options");
  for (const MachineOption& o : machine_option_table()) add_option(d, o);
  return d;
}

po::options_description machine_options(std::initializer_list<std::string_view> keys,
                                        const std::string& caption) {
  po::options_description d(caption);
  for (std::string_view key : keys) add_option(d, *find_machine_option(key));
  return d;
}

void apply_option(MachineConfig& cfg, std::string_view key, std::string_view value) {
  const MachineOption& o = *find_machine_option(key);
  try {
    o.parse(cfg, o.key, value);
  } catch (const ConfigError& e) {
    throw UsageError(std::string("--") + e.what());
  }
}

po::options_description json_summary_option() {
  po::options_description d;
  d.add_options()("json", po::bool_switch(),
                  "print a JSON summary on stdout (serial output off unless --serial)");
  return d;
}

bool wants_json_summary(const po::variables_map& vm, MachineConfig& cfg) {
  if (!vm["json"].as<bool>()) return false;
  if (!vm.count("serial") || vm["serial"].defaulted()) apply_option(cfg, "serial", "none");
  return true;
}

void apply_override(MachineConfig& cfg, const std::string& key, const std::string& value) {
  try {
    cfg.set(key, value);
  } catch (const ConfigError& e) {
    throw UsageError("--override " + key + "=" + value + ": " + e.what());
  }
}

void resolve_acpi_pic(MachineConfig& cfg, bool acpi_pic_given) {
  if (!cfg.acpi && !acpi_pic_given) cfg.acpi_pic = false;
  if (cfg.acpi_pic && !cfg.acpi) {
    throw UsageError("--acpi-pic on needs --acpi on (there is no DSDT to hold _PIC)");
  }
}

void apply_machine_options(const po::variables_map& vm, MachineConfig& cfg) {
  for (const MachineOption& o : machine_option_table()) {
    std::string key(o.key);
    if (vm.count(key)) apply_option(cfg, key, vm[key].as<std::string>());
  }
  if (vm.count("acpi")) resolve_acpi_pic(cfg, vm.count("acpi-pic") && !vm["acpi-pic"].defaulted());
}

MachineConfig guest_config(const po::variables_map& vm) {
  if (!vm.count("kernel")) throw UsageError("--kernel FILE is required");
  MachineConfig cfg;
  apply_machine_options(vm, cfg);
  return cfg;
}

void validate(boost::any& store, const std::vector<std::string>& tokens, Count*, int) {
  po::validators::check_first_occurrence(store);
  const std::string& text = po::validators::get_single_string(tokens);
  std::optional<uint64_t> n = parse_decimal(text);
  if (!n) {
    po::error_with_option_name e(
        "%canonical_option% takes a whole number 0 .. 18446744073709551615, not '%value%'");
    e.set_substitute("value", text);
    throw e;
  }
  store = Count{*n};
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t limit, const std::string& what) {
  try {
    return trace::read_input_file(path, limit, what);
  } catch (const trace::InputFileError& e) {
    throw InputError(e.what());
  } catch (const trace::InputTooLarge& e) {
    throw DataError(e.what());
  }
}

void connect_network(Machine& machine, const MachineConfig& cfg) {
  if (cfg.net.kind == NetKind::kNone) return;
  machine.connect_network(make_net_backend(cfg.net.spec, [](const std::string& msg) {
    std::cerr << "rrvm: warning: network: " << msg << "\n";
  }));
}

void print_cpu_warnings(const Machine& machine) {
  for (const std::string& w : machine.cpu_warnings()) std::cerr << "rrvm: warning: " << w << "\n";
}

// The loaders place the images in guest RAM, so together they must fit in
// it; reading stops there (and a FIFO or /dev/zero is refused before a read).
MachineImages read_images(const MachineConfig& cfg) {
  MachineImages images;
  std::string ram = " (guest RAM is " + std::to_string(cfg.mem_size >> 20) + " MiB, --mem)";
  try {
    images.kernel = read_file(cfg.kernel_path, cfg.mem_size, "kernel");
    if (!cfg.initrd_path.empty())
      images.initrd = read_file(cfg.initrd_path, cfg.mem_size - images.kernel.size(), "initrd");
  } catch (const DataError& e) {
    throw DataError(std::string(e.what()) + ": the images do not fit in guest RAM" + ram);
  }
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
      std::vector<uint8_t> text =
          read_file(vm["config"].as<std::string>(), kMaxConfigBytes, "config file");
      std::istringstream f(std::string(text.begin(), text.end()));
      po::store(po::parse_config_file(f, all), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

}  // namespace rrvm::cli
