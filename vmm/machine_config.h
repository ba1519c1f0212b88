// Everything that defines a machine. The trace header stores all of it as
// key/value pairs (to_pairs), so `rrvm replay` needs no flags.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rrvm {

struct MachineConfig {
  std::string kernel_path;
  std::string initrd_path;  // empty: none
  std::string cmdline;
  uint64_t mem_size = 256ull << 20;
  std::string serial = "stdio";   // stdio | file:PATH | none
  double timeout_sec = 0;         // 0: no limit (host seconds)
  bool strict_io = false;         // an access to an unmapped port/address is fatal
  std::string mptable = "fixed";  // kvm84 | fixed | none
  bool acpi = true;
  bool acpi_pic = true;
  bool rtl8139_timer = true;
  std::string net = "none";         // none | user | tap:IFNAME
  uint64_t rtc_epoch = 1230768000;  // 2009-01-01T00:00:00Z, the seed's era
  std::string clock = "host";       // host | virtual (see vmm/host_clock.h)

  // Machine-shape options only (not paths, serial or timeout), in a stable
  // order: what must be equal for two runs to be comparable.
  std::vector<std::pair<std::string, std::string>> to_pairs() const;
  // Sets one machine-shape option by its to_pairs() key (the trace header,
  // bisect's --override, the CLI). Throws std::invalid_argument naming the
  // key and the accepted values.
  void set(const std::string& key, const std::string& value);
};

// "256M", "1G", "65536K", "268435456" -> bytes. Throws std::invalid_argument
// naming the text on anything else.
uint64_t parse_size(const std::string& text);

}  // namespace rrvm
