// rrvm bisect: the first instruction at which two executions part.
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "devices/hex.h"
#include "replay/bisect.h"
#include "replay/device_models.h"
#include "replay/trace_header.h"
#include "tools/command.h"
#include "tools/gdb_serve.h"
#include "tools/machine_options.h"
#include "trace/json_writer.h"
#include "trace/text_escape.h"
#include "vmm/kicker.h"

namespace rrvm::cli {

namespace {

constexpr const char* kHelp =
    "Finds the first instruction at which two executions of the same guest part:\n"
    "  rrvm bisect A.rrt B.rrt                  two recordings of the same guest image\n"
    "  rrvm bisect A.rrt --override KEY=VALUE   A's recording against a changed machine\n"
    "                                           (mptable=fixed, rtl8139-timer=on,\n"
    "                                           acpi-pic=on, ...)\n\n"
    "With --override, side B replays A's external inputs (time, packets, console,\n"
    "interrupt points) while its devices answer the guest from their own models: the\n"
    "first place where the changed machine asks for something A's trace does not hold\n"
    "is itself reported as the divergence.\n\n"
    "Both sides are replayed in lockstep exit by exit; at the first differing exit\n"
    "both are replayed again to the last common exit and single-stepped from there,\n"
    "comparing registers after each instruction. Only that interval is searched;\n"
    "where their memory differs in a few pages (firmware tables), both run freely to\n"
    "the first instruction that touches a differing byte (pages trapped) instead, and\n"
    "the report gives no count of instructions after the exit unless --gdb asks.\n"
    "The report names the instruction (address, symbol from the guest's ELF symbol\n"
    "table or --symbols, disassembly), the register difference, the input at that\n"
    "point in words, and the memory pages that differ (and, for machines that start\n"
    "from different firmware tables, which table each differing page holds).\n\n"
    "Exit status: 0 a divergence was found and reported, 3 the executions are\n"
    "identical, 64 usage error (incl. traces of different guest images without\n"
    "--force), 65 corrupt trace, 66 missing file.";

struct Args {
  std::string a, b, symbols, gdb;
  std::vector<std::string> overrides;
  bool force = false, json = false;
  uint64_t max_steps = 0;
};

std::string pages_text(const std::vector<PageDiff>& pages, uint64_t total) {
  std::string o;
  for (const auto& p : pages) o += " " + hex(p.addr) + (p.what.empty() ? "" : " (" + p.what + ")");
  if (total > pages.size()) o += " ... " + std::to_string(total) + " in all";
  return o;
}

// "4487 instructions after exit 71", or how it was reached when not counted.
std::string where_after(const BisectResult& r) {
  if (r.instruction_index)
    return std::to_string(*r.instruction_index) +
           (*r.instruction_index == 1 ? " instruction" : " instructions") + " after exit " +
           std::to_string(r.last_common_exit);
  return "after exit " + std::to_string(r.last_common_exit) +
         " (reached by running to the memory where the sides differ, not counted; --gdb counts it)";
}

std::string report_text(const BisectResult& r, const Args& args) {
  std::ostringstream o;
  o << "bisect " << args.a << " vs " << (args.b.empty() ? "the same trace with --override" : args.b)
    << "\n";
  if (!r.start_pages.empty()) {
    o << "  memory differs before the first instruction:" << pages_text(r.start_pages, 0) << "\n";
  }
  if (!r.diverged) {
    o << "  " << r.summary << "\n";
    return o.str();
  }
  o << "  first differing exit: " << r.summary << "\n";
  o << "  last common exit: " << r.last_common_exit << "\n";
  if (r.instruction_found) {
    o << "  divergent instruction: " << hex(r.rip)
      << (r.symbol.empty() ? "" : " <" + r.symbol + ">") << ", " << where_after(r) << "\n";
    o << "  what differs: " << r.input << "\n";
    for (const auto& insn : r.disassembly) {
      o << (insn.marked ? "  => " : "     ") << hex(insn.addr) << "  " << insn.text << "\n";
    }
    if (!r.register_diff.empty()) o << "  registers (A vs B): " << r.register_diff << "\n";
  }
  if (r.divergence_pages_total) {
    o << "  memory pages differing there:"
      << pages_text(r.divergence_pages, r.divergence_pages_total) << "\n";
  }
  auto list = [&](const char* side, const std::vector<std::string>& ev) {
    if (ev.empty()) return;
    o << "  last inputs of " << side << ":\n";
    for (const auto& e : ev) o << "    " << e << "\n";
  };
  list("A", r.recent_inputs_a);
  list("B", r.recent_inputs_b);
  if (!r.side_a_end.empty()) o << "  A: " << r.side_a_end << "\n";
  if (!r.side_b_end.empty()) o << "  B: " << r.side_b_end << "\n";
  return o.str();
}

// Symbols, disassembly and inputs come from the traces' guests: the report
// is escaped as a whole on its way to the terminal.
void print_text(const BisectResult& r, const Args& args) {
  std::cout << trace::escape_text(report_text(r, args), trace::Escape::kLines);
}

void json_pages(trace::JsonWriter& j, const std::vector<PageDiff>& pages) {
  j.begin_array();
  for (const auto& p : pages) {
    j.begin_object().field("addr", hex(p.addr)).field("what", p.what).end_object();
  }
  j.end_array();
}

void print_json(const BisectResult& r) {
  trace::JsonWriter j;
  j.begin_object()
      .field("diverged", r.diverged)
      .field("summary", r.summary)
      .field("last_common_exit", r.last_common_exit)
      .field("first_differing_exit", r.first_differing_exit)
      .field("instruction_found", r.instruction_found)
      .field("rip", hex(r.rip))
      .field("symbol", r.symbol)
      .field("instructions_stepped", r.instructions_stepped)
      .field("ran_to_differing_memory", r.ran_to_touch)
      .key("instruction_index");
  if (r.instruction_index) {
    j.value(*r.instruction_index);
  } else {
    j.null();
  }
  j.field("what", r.input).field("register_diff", r.register_diff).key("disassembly").begin_array();
  for (const auto& insn : r.disassembly) {
    j.begin_object().field("addr", hex(insn.addr)).field("text", insn.text);
    j.field("divergent", insn.marked).end_object();
  }
  j.end_array().key("start_pages");
  json_pages(j, r.start_pages);
  j.key("divergence_pages");
  json_pages(j, r.divergence_pages);
  j.field("divergence_pages_total", r.divergence_pages_total)
      .key("recent_inputs_a")
      .strings(r.recent_inputs_a)
      .key("recent_inputs_b")
      .strings(r.recent_inputs_b)
      .field("side_a_end", r.side_a_end)
      .field("side_b_end", r.side_b_end)
      .field("lockstep_exits", r.lockstep_exits)
      .key("seconds")
      .begin_object()
      .field("lockstep", r.lockstep_seconds)
      .field("replay", r.replay_seconds)
      .field("single_step", r.step_seconds)
      .end_object()
      .end_object();
  std::cout << j.str() << "\n";
}

// What bisect needs from one trace. Damage, or a machine configuration this
// rrvm does not accept, is reported naming the file (exit 65).
struct SideTrace {
  BisectSideSpec spec;
  std::vector<trace::ImageRef> images;
  GuestSymbols symbols;  // the embedded kernel's ELF symbols, when asked for
};

SideTrace open_side(const std::string& path, bool want_symbols) {
  return reading(path, [&] {
    trace::TraceReader reader(path);
    std::string models = device_models_note(reader.header());
    if (!models.empty()) std::cerr << "rrvm: note: " << path << ": " << models << "\n";
    SideTrace side{{path, config_from_trace(reader.header()), false}, reader.header().images, {}};
    if (want_symbols) side.symbols = GuestSymbols::from_elf(images_from_trace(reader).kernel);
    return side;
  });
}

// --symbols FILE: missing is 66, a malformed line 65.
GuestSymbols map_file_symbols(const std::string& path) {
  std::vector<uint8_t> text = read_file(path, GuestSymbols::kMaxMapBytes, "symbol file");
  try {
    return GuestSymbols::from_map(
        std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), path);
  } catch (const std::runtime_error& e) {  // names the file and line
    throw DataError(e.what());
  }
}

int run_bisect(const Args& args) {
  if (args.b.empty() && args.overrides.empty()) {
    throw UsageError("give a second trace or at least one --override KEY=VALUE");
  }
  if (!args.b.empty() && !args.overrides.empty()) {
    throw UsageError("give either a second trace or --override, not both");
  }
  SideTrace a = open_side(args.a, args.symbols.empty());
  BisectSideSpec b;
  if (!args.b.empty()) {
    SideTrace tb = open_side(args.b, false);
    b = tb.spec;
    if (a.images != tb.images && !args.force) {
      throw UsageError(args.a + " and " + args.b +
                       " record different guest images (compare `rrvm trace info`); bisect "
                       "compares executions of one image (--force to try anyway)");
    }
  } else {
    b = {args.a, a.spec.config, true};
    for (const auto& kv : args.overrides) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) throw UsageError("--override takes KEY=VALUE, not '" + kv + "'");
      apply_override(b.config, kv.substr(0, eq), kv.substr(eq + 1));
    }
    resolve_acpi_pic(b.config, /*acpi_pic_given=*/true);  // the trace's value stands
  }
  GuestSymbols symbols = args.symbols.empty() ? a.symbols : map_file_symbols(args.symbols);
  BisectOptions opts;
  if (args.max_steps) opts.max_steps = args.max_steps;
  bool tty = isatty(2);
  if (tty) {
    opts.progress = [](const std::string& phase, uint64_t exits) {
      std::cerr << "\rrrvm bisect: " << phase << " (exit " << exits << ")          " << std::flush;
    };
  }
  std::optional<GdbEndpoint> ep = gdb_endpoint(args.gdb);
  // With --gdb -, stdout is the protocol: the report goes to stderr.
  std::optional<GdbConnection> conn;
  if (ep && ep->stdio) conn.emplace(stdio_gdb_connection());
  auto report = [&](const BisectResult& r) {
    if (tty) std::cerr << "\r" << std::string(60, ' ') << "\r";
    if (args.json) {
      print_json(r);
    } else {
      print_text(r, args);
    }
    std::cout << std::flush;
  };
  int served = kExitOk;
  if (ep) {
    opts.on_result = [&](const BisectResult& r, ReplaySession& side_a) {
      report(r);
      served = serve_gdb(side_a, *ep, conn, "side A");
    };
  }
  Kicker::install_stop_signals();
  BisectResult r = bisect(a.spec, b, symbols, opts);
  if (!ep) report(r);
  if (served != kExitOk) return served;
  return r.diverged ? kExitOk : kExitIdentical;
}

int cmd_bisect(const std::vector<std::string>& argv) {
  Args args;
  po::options_description desc("Bisect options");
  desc.add_options()("a", po::value<std::string>(&args.a)->value_name("A.rrt"), "first trace")(
      "b", po::value<std::string>(&args.b)->value_name("B.rrt"), "second trace")(
      "override", po::value<std::vector<std::string>>(&args.overrides)->value_name("KEY=VALUE"),
      ("replay A on a changed machine (repeatable); KEY is one of " + machine_option_keys() +
       " (the --flags of rrvm run, with the same values)")
          .c_str())("symbols", po::value<std::string>(&args.symbols),
                    "System.map-style symbol file (default: the ELF symbol "
                    "table of the kernel image in the trace)")(
      "force", po::bool_switch(&args.force), "compare traces of different guest images")(
      "max-steps", po::value<Count>()->value_name("N"),
      "single-step budget for the final interval (default 500000)")(
      "json", po::bool_switch(&args.json), "print the report as JSON on stdout")(
      "gdb", po::value<std::string>(&args.gdb)->value_name("[HOST:]PORT|-"),
      "after the report, serve side A's replay to gdb, stopped right before the divergent "
      "instruction (as rrvm replay --gdb)");
  po::positional_options_description pos;
  pos.add("a", 1).add("b", 1);
  po::variables_map vm;
  if (!parse_args(argv, desc, pos, vm, "rrvm bisect A.rrt (B.rrt | --override KEY=VALUE...)",
                  kHelp))
    return kExitOk;
  if (args.a.empty()) throw UsageError("which traces? usage: rrvm bisect A.rrt B.rrt");
  if (vm.count("max-steps")) args.max_steps = vm["max-steps"].as<Count>().value;
  return run_bisect(args);
}

}  // namespace

RRVM_COMMAND("bisect", "find the first instruction at which two executions diverge", cmd_bisect);

}  // namespace rrvm::cli
