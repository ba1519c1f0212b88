// rrvm tables: the MP and ACPI tables a machine configuration gives its
// guest, as hex dumps at their guest addresses. No KVM needed: what a bug
// report about a firmware table quotes.
#include <cstdio>
#include <iostream>

#include "devices/guest_memory.h"
#include "devices/hex.h"
#include "firmware/bios_tables.h"
#include "firmware/hexdump.h"
#include "tools/command.h"
#include "tools/machine_options.h"
#include "trace/json_writer.h"

namespace rrvm::cli {
namespace {

constexpr const char* kHelp =
    "Prints the firmware tables rrvm writes into guest memory for a machine\n"
    "configuration, as hex dumps at their guest physical addresses:\n"
    "  rrvm tables --mptable kvm84        the seed's broken MP table\n"
    "  rrvm tables --mptable fixed --acpi on --acpi-pic off\n"
    "--only mp|acpi limits the output; --json prints the bytes as hex strings.\n"
    "Exit status 0, or 64 for a bad option.";

struct Region {
  const char* name;
  uint32_t addr, size;
};

std::vector<uint8_t> bytes_of(VectorMemory& mem, const Region& r) {
  std::vector<uint8_t> bytes(r.size);
  mem.read(r.addr, bytes);
  return bytes;
}

void print_text(VectorMemory& mem, const std::vector<Region>& regions) {
  for (const Region& r : regions) {
    std::cout << r.name << " at " << hex(r.addr) << ", " << r.size << " bytes\n"
              << hexdump(bytes_of(mem, r), r.addr) << "\n";
  }
}

// {"tables": [{"name": "RSDP", "addr": "0xf0000", "size": 36, "hex": "525344..."}, ...]}
void print_json(VectorMemory& mem, const std::vector<Region>& regions) {
  trace::JsonWriter j;
  j.begin_object().key("tables").begin_array();
  for (const Region& r : regions) {
    std::string digits;
    char b[3];
    for (uint8_t byte : bytes_of(mem, r)) {
      std::snprintf(b, sizeof b, "%02x", byte);
      digits += b;
    }
    j.begin_object().field("name", r.name).field("addr", hex(r.addr)).field("size", r.size);
    j.field("hex", digits).end_object();
  }
  std::cout << j.end_array().end_object().str() << "\n";
}

// ACPI tables carry their length at offset 4 (ACPI 6.5, 5.2.6).
uint32_t sdt_length(VectorMemory& mem, uint32_t addr) {
  uint8_t b[4] = {};
  if (!addr || !mem.read(addr + 4, b)) return 0;
  return b[0] | b[1] << 8 | b[2] << 16 | uint32_t(b[3]) << 24;
}

int cmd_tables(const std::vector<std::string>& args) {
  po::options_description desc =
      machine_options({"mptable", "acpi", "acpi-pic", "net", "hpet"}, "Table options");
  desc.add_options()("only", po::value<std::string>()->default_value(""), "mp or acpi")(
      "json", po::bool_switch(), "the tables as JSON (name, address, size, bytes in hex)");
  po::variables_map vm;
  if (!parse_args(args, desc, {}, vm, "rrvm tables [options]", kHelp)) return kExitOk;
  MachineConfig cfg;
  apply_machine_options(vm, cfg);
  std::string only = vm["only"].as<std::string>();
  if (!only.empty() && only != "mp" && only != "acpi")
    throw UsageError("--only takes mp or acpi, not '" + only + "'");
  VectorMemory mem(2 << 20);
  BiosTablesInfo t = write_bios_tables(default_layout(cfg.net.kind != NetKind::kNone, cfg.hpet),
                                       cfg.mptable, AcpiOptions{cfg.acpi, cfg.acpi_pic}, mem);
  std::vector<Region> regions;
  if (only != "acpi") {
    regions.push_back({"MP floating pointer", t.mp_floating_addr, 16});
    regions.push_back({"MP configuration table", t.mp_config_addr, t.mp_config_size});
  }
  if (only != "mp") {
    regions.push_back({"RSDP", t.rsdp_addr, 36});
    for (auto [name, addr] : {std::pair{"RSDT", t.rsdt_addr},
                              {"XSDT", t.xsdt_addr},
                              {"FADT", t.fadt_addr},
                              {"MADT", t.madt_addr},
                              {"HPET", t.hpet_addr},
                              {"DSDT", t.dsdt_addr},
                              {"FACS", t.facs_addr}})
      regions.push_back({name, addr, sdt_length(mem, addr)});
  }
  std::erase_if(regions, [](const Region& r) { return !r.addr || !r.size; });  // absent tables
  if (vm["json"].as<bool>())
    print_json(mem, regions);
  else
    print_text(mem, regions);
  return kExitOk;
}

}  // namespace

RRVM_COMMAND("tables", "print the MP and ACPI tables a machine configuration gives the guest",
             cmd_tables);

}  // namespace rrvm::cli
