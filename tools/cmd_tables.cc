// rrvm tables: the MP and ACPI tables a machine configuration gives its
// guest, as hex dumps at their guest addresses. No KVM needed: what a bug
// report about a firmware table quotes.
#include <iostream>

#include "devices/guest_memory.h"
#include "firmware/bios_tables.h"
#include "firmware/hexdump.h"
#include "tools/command.h"
#include "tools/machine_options.h"

namespace rrvm::cli {
namespace {

constexpr const char* kHelp =
    "Prints the firmware tables rrvm writes into guest memory for a machine\n"
    "configuration, as hex dumps at their guest physical addresses:\n"
    "  rrvm tables --mptable kvm84        the seed's broken MP table\n"
    "  rrvm tables --mptable fixed --acpi on --acpi-pic off\n"
    "--only mp|acpi limits the output. Exit status 0, or 64 for a bad option.";

struct Region {
  const char* name;
  uint32_t addr, size;
};

void dump(VectorMemory& mem, const Region& r) {
  if (!r.addr || !r.size) return;
  std::vector<uint8_t> bytes(r.size);
  mem.read(r.addr, bytes);
  std::cout << r.name << " at " << std::hex << "0x" << r.addr << std::dec << ", " << r.size
            << " bytes\n"
            << hexdump(bytes, r.addr) << "\n";
}

// ACPI tables carry their length at offset 4 (ACPI 6.5, 5.2.6).
uint32_t sdt_length(VectorMemory& mem, uint32_t addr) {
  uint8_t b[4] = {};
  if (!addr || !mem.read(addr + 4, b)) return 0;
  return b[0] | b[1] << 8 | b[2] << 16 | uint32_t(b[3]) << 24;
}

int cmd_tables(const std::vector<std::string>& args) {
  po::options_description desc("Table options");
  desc.add_options()("mptable", po::value<std::string>()->default_value("fixed"),
                     "kvm84, fixed or none")("acpi", po::value<std::string>()->default_value("on"),
                                             "on or off")(
      "acpi-pic", po::value<std::string>()->default_value("on"), "on or off")(
      "net", po::value<std::string>()->default_value("none"),
      "none, user, tap:IF (a NIC adds PCI interrupt entries)")(
      "only", po::value<std::string>()->default_value(""), "mp or acpi");
  po::variables_map vm;
  try {
    if (!parse_args(args, desc, {}, vm, "rrvm tables [options]", kHelp)) return kExitOk;
    MachineConfig cfg;
    for (const char* key : {"mptable", "acpi", "acpi-pic", "net"})
      apply_override(cfg, key, vm[key].as<std::string>());
    resolve_acpi_pic(cfg, !vm["acpi-pic"].defaulted());
    std::string only = vm["only"].as<std::string>();
    if (!only.empty() && only != "mp" && only != "acpi")
      throw UsageError("--only takes mp or acpi, not '" + only + "'");
    VectorMemory mem(2 << 20);
    BiosTablesInfo t =
        write_bios_tables(default_layout(cfg.net != "none"), *parse_mp_table_variant(cfg.mptable),
                          AcpiOptions{cfg.acpi, cfg.acpi_pic}, mem);
    if (only != "acpi") {
      dump(mem, {"MP floating pointer", t.mp_floating_addr, 16});
      dump(mem, {"MP configuration table", t.mp_config_addr, t.mp_config_size});
    }
    if (only != "mp") {
      dump(mem, {"RSDP", t.rsdp_addr, 36});
      for (auto [name, addr] : {std::pair{"RSDT", t.rsdt_addr},
                                {"XSDT", t.xsdt_addr},
                                {"FADT", t.fadt_addr},
                                {"MADT", t.madt_addr},
                                {"DSDT", t.dsdt_addr},
                                {"FACS", t.facs_addr}})
        dump(mem, {name, addr, sdt_length(mem, addr)});
    }
    return kExitOk;
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  }
}

}  // namespace

RRVM_COMMAND("tables", "print the MP and ACPI tables a machine configuration gives the guest",
             cmd_tables);

}  // namespace rrvm::cli
