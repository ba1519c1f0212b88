// rrvm info / dump / verify / extract: look inside a trace.
#include <fstream>
#include <iostream>

#include "tools/command.h"
#include "tools/machine_options.h"
#include "trace/trace_inspect.h"

namespace rrvm::cli {
namespace {

using trace::TraceReader;

// Shared shape: one positional trace, --json, and the standard exit codes
// (0 good, 65 corrupt, 66 missing).
template <typename Body>
int with_trace(const std::vector<std::string>& args, po::options_description desc,
               const std::string& usage, const std::string& help, Body body) {
  std::string path;
  try {
    desc.add_options()("trace", po::value<std::string>(&path)->value_name("FILE"), "trace file")(
        "json", po::bool_switch(), "machine-readable output");
    po::positional_options_description pos;
    pos.add("trace", 1);
    po::variables_map vm;
    if (!parse_args(args, desc, pos, vm, usage, help)) return kExitOk;
    if (path.empty()) throw UsageError("which trace? usage: " + usage);
    TraceReader reader(path);
    return body(reader, vm);
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const trace::TraceMissing& e) {
    return fail(kExitNoInput, e.what());
  } catch (const trace::TraceError& e) {
    return fail(kExitDataErr, path + ": " + e.what());
  }
}

int cmd_info(const std::vector<std::string>& args) {
  return with_trace(
      args, po::options_description("Options"), "rrvm info FILE.rrt [--json]",
      "Shows a trace's header (rrvm version, host, machine configuration), the\n"
      "embedded images, event counts by kind, size, and whether it is complete.",
      [](TraceReader& r, const po::variables_map& vm) -> int {
        trace::TraceSummary s = trace::summarize(r);
        std::cout << (vm["json"].as<bool>() ? trace::info_json(r, s) : trace::info_text(r, s));
        return kExitOk;
      });
}

int cmd_dump(const std::vector<std::string>& args) {
  po::options_description d("Options");
  d.add_options()("from", po::value<uint64_t>()->value_name("N"), "first exit ordinal")(
      "to", po::value<uint64_t>()->value_name("M"), "last exit ordinal")(
      "kind", po::value<std::string>()->value_name("K"),
      "only events of kind K (port-read, mmio-read, clock-read, interrupt, landmark, "
      "reg-digest, mem-digest, guest-exit, console-input, ...)");
  return with_trace(
      args, d, "rrvm dump FILE.rrt [--from N] [--to M] [--kind K] [--json]",
      "Prints the events of a trace, one per line: #exit-ordinal kind fields.",
      [](TraceReader& r, const po::variables_map& vm) -> int {
        trace::DumpFilter f;
        if (vm.count("from")) f.from = vm["from"].as<uint64_t>();
        if (vm.count("to")) f.to = vm["to"].as<uint64_t>();
        if (vm.count("kind")) {
          f.kind = trace::kind_from_name(vm["kind"].as<std::string>());
          if (!f.kind)
            throw UsageError("unknown event kind '" + vm["kind"].as<std::string>() + "'");
        }
        std::string out;
        trace::dump(r, f, vm["json"].as<bool>(), out);
        std::cout << out;
        return kExitOk;
      });
}

int cmd_verify(const std::vector<std::string>& args) {
  return with_trace(args, po::options_description("Options"), "rrvm verify FILE.rrt [--json]",
                    "Checks every frame's checksum, event order, and that index and footer agree\n"
                    "with the events. Exit 0 when the trace is complete and sound, 65 otherwise.",
                    [](TraceReader& r, const po::variables_map& vm) -> int {
                      trace::TraceSummary s;
                      auto problems = trace::verify(r, &s);
                      if (vm["json"].as<bool>()) {
                        std::cout << "{\"ok\": " << (problems.empty() ? "true" : "false")
                                  << ", \"events\": " << s.events << ", \"problems\": [";
                        for (size_t i = 0; i < problems.size(); ++i) {
                          std::cout << (i ? ", " : "") << "\"" << trace::json_escape(problems[i])
                                    << "\"";
                        }
                        std::cout << "]}\n";
                      } else if (problems.empty()) {
                        std::cout << "ok: " << s.events << " events, complete\n";
                      }
                      for (const auto& p : problems) std::cerr << "rrvm: verify: " << p << "\n";
                      return problems.empty() ? kExitOk : kExitDataErr;
                    });
}

int cmd_extract(const std::vector<std::string>& args) {
  po::options_description d("Options");
  d.add_options()("blob", po::value<std::string>()->value_name("HASH"),
                  "content hash (or a unique prefix)")(
      "output,o", po::value<std::string>()->value_name("FILE"), "where to write it");
  return with_trace(args, d, "rrvm extract FILE.rrt --blob HASH -o FILE",
                    "Writes an embedded guest image out of a trace (hashes: rrvm info).",
                    [](TraceReader& r, const po::variables_map& vm) -> int {
                      if (!vm.count("blob") || !vm.count("output"))
                        throw UsageError("--blob HASH and -o FILE are required");
                      std::vector<uint8_t> bytes = r.blob(vm["blob"].as<std::string>());
                      std::string out = vm["output"].as<std::string>();
                      std::ofstream f(out, std::ios::binary);
                      f.write(reinterpret_cast<const char*>(bytes.data()),
                              std::streamsize(bytes.size()));
                      if (!f) return fail(kExitIoErr, "cannot write " + out);
                      if (vm["json"].as<bool>())
                        std::cout << "{\"bytes\": " << bytes.size() << "}\n";
                      return kExitOk;
                    });
}

}  // namespace

RRVM_COMMAND("info", "summarize a trace: machine, images, event counts", cmd_info);
RRVM_COMMAND("dump", "print a trace's events", cmd_dump);
RRVM_COMMAND("verify", "check a trace's checksums, order and completeness", cmd_verify);
RRVM_COMMAND("extract", "write an embedded guest image out of a trace", cmd_extract);

}  // namespace rrvm::cli
