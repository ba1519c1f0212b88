#include "vmm/machine_config.h"

#include <cctype>
#include <stdexcept>

namespace rrvm {

std::vector<std::pair<std::string, std::string>> MachineConfig::to_pairs() const {
  return {
      {"mem", std::to_string(mem_size)},
      {"cmdline", cmdline},
      {"mptable", mptable},
      {"acpi", acpi ? "on" : "off"},
      {"acpi-pic", acpi_pic ? "on" : "off"},
      {"rtl8139-timer", rtl8139_timer ? "on" : "off"},
      {"net", net},
      {"rtc-epoch", std::to_string(rtc_epoch)},
      {"clock", clock},
  };
}

namespace {

bool on_off(const std::string& key, const std::string& v) {
  if (v == "on" || v == "1" || v == "yes" || v == "true") return true;
  if (v == "off" || v == "0" || v == "no" || v == "false") return false;
  throw std::invalid_argument("--" + key + " takes on or off, not '" + v + "'");
}

}  // namespace

void MachineConfig::set(const std::string& key, const std::string& value) {
  if (key == "mem") {
    mem_size = parse_size(value);
  } else if (key == "cmdline") {
    cmdline = value;
  } else if (key == "mptable") {
    if (value != "kvm84" && value != "fixed" && value != "none") {
      throw std::invalid_argument("--mptable takes kvm84, fixed or none, not '" + value + "'");
    }
    mptable = value;
  } else if (key == "acpi") {
    acpi = on_off(key, value);
  } else if (key == "acpi-pic") {
    acpi_pic = on_off(key, value);
  } else if (key == "rtl8139-timer") {
    rtl8139_timer = on_off(key, value);
  } else if (key == "net") {
    if (value != "none" && value != "user" && value.rfind("tap:", 0) != 0) {
      throw std::invalid_argument("--net takes none, user or tap:IFNAME, not '" + value + "'");
    }
    net = value;
  } else if (key == "clock") {
    if (value != "host" && value != "virtual") {
      throw std::invalid_argument("--clock takes host or virtual, not '" + value + "'");
    }
    clock = value;
  } else if (key == "rtc-epoch") {
    rtc_epoch = std::stoull(value);
  } else {
    throw std::invalid_argument("unknown machine option '" + key +
                                "' (known: mem, cmdline, mptable, acpi, acpi-pic, "
                                "rtl8139-timer, net, rtc-epoch)");
  }
}

uint64_t parse_size(const std::string& text) {
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (UINT64_MAX - digit) / 10)
      throw std::invalid_argument("size '" + text + "' is too large");
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0)
    throw std::invalid_argument("size '" + text + "' is not a number (examples: 256M, 1G)");
  std::string suffix = text.substr(i);
  unsigned shift = 0;
  if (suffix == "")
    shift = 0;
  else if (suffix == "K" || suffix == "k" || suffix == "KiB")
    shift = 10;
  else if (suffix == "M" || suffix == "m" || suffix == "MiB")
    shift = 20;
  else if (suffix == "G" || suffix == "g" || suffix == "GiB")
    shift = 30;
  else
    throw std::invalid_argument("size '" + text + "' has an unknown suffix (use K, M or G)");
  if (shift && value > (UINT64_MAX >> shift))
    throw std::invalid_argument("size '" + text + "' is too large");
  return value << shift;
}

}  // namespace rrvm
