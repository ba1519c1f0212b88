// rrvm info / dump / verify / extract: look inside a trace. The formatting
// lives in trace/trace_inspect.h; this file parses options and reports
// outcomes: 0 good, 65 corrupt (or, for verify, incomplete), 66 missing file,
// 64 bad usage, 73/74 output not creatable/writable (tools/error_policy.h).
// Reasons go to stderr as one line, "rrvm: error: ...".
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "tools/command.h"
#include "tools/machine_options.h"
#include "trace/json_writer.h"
#include "trace/trace_inspect.h"

namespace rrvm::cli {
namespace {

using trace::TraceReader;

// Shared shape: one positional trace file, --json, and the exit codes.
template <typename Body>
int with_trace(const std::vector<std::string>& args, po::options_description desc,
               const std::string& usage, const std::string& help, Body body) {
  std::string path;
  desc.add_options()("trace", po::value<std::string>(&path)->value_name("FILE"),
                     "trace file (.rrt)")("json", po::bool_switch(),
                                          "machine-readable output (JSON)");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  if (!parse_args(args, desc, pos, vm, usage, help)) return kExitOk;
  if (path.empty()) throw UsageError("which trace? usage: " + usage);
  return reading(path, [&] {
    TraceReader reader(path);
    return body(path, reader, vm);
  });
}

int cmd_info(const std::vector<std::string>& args) {
  return with_trace(
      args, po::options_description("Options"), "rrvm info FILE.rrt [--json]",
      "Shows what a trace holds: whether it is complete or where it was cut off,\n"
      "the rrvm and host that wrote it, the machine configuration (what replay\n"
      "will rebuild), the embedded images, event counts by kind, and its size in\n"
      "bytes per event. Reads every event and checks every embedded image against\n"
      "its hash, so damage anywhere is reported (exit 65).",
      [](const std::string& path, TraceReader& r, const po::variables_map& vm) -> int {
        trace::TraceSummary s = trace::summarize(r);
        bool json = vm["json"].as<bool>();
        std::cout << (json ? trace::info_json(path, r, s) : trace::info_text(path, r, s));
        if (s.error) return fail(kExitDataErr, path + ": " + s.error->what());
        if (!s.damage.empty()) return fail(kExitDataErr, path + ": " + s.damage.front().what());
        return kExitOk;
      });
}

// "port-read, mmio-read, ...": every kind `--kind` takes.
std::string kind_names() {
  std::string out;
  for (const trace::KindLayout& k : trace::kKindLayouts)
    out += (out.empty() ? "" : ", ") + std::string(k.name);
  return out;
}

trace::DumpFilter dump_filter(const po::variables_map& vm) {
  trace::DumpFilter f;
  if (vm.count("from")) f.from = vm["from"].as<Count>().value;
  if (vm.count("to")) f.to = vm["to"].as<Count>().value;
  if (vm.count("kind")) {
    const std::string& k = vm["kind"].as<std::string>();
    f.kind = trace::kind_from_name(k);
    if (!f.kind) throw UsageError("unknown event kind '" + k + "' (see rrvm dump --help)");
  }
  return f;
}

int cmd_dump(const std::vector<std::string>& args) {
  po::options_description d("Options");
  d.add_options()("from", po::value<Count>()->value_name("N"),
                  "start at exit ordinal N (through the index)")(
      "to", po::value<Count>()->value_name("M"), "stop after exit ordinal M")(
      "kind", po::value<std::string>()->value_name("K"),
      ("only events of kind K: " + kind_names()).c_str());
  return with_trace(
      args, d, "rrvm dump FILE.rrt [--from N] [--to M] [--kind K] [--json]",
      "Prints a trace's events in order, one per line: #exit-ordinal kind fields,\n"
      "e.g. '#1042 time-skip cause=0 ns=0' (the guest halted at exit 1042 and its time\n"
      "jumped to the next timer). With --json, one JSON object per line.\n\n"
      "A trace stores only what the device models cannot recompute (rrvm record\n"
      "--help): unless it was recorded with --log-values, it holds no read values and\n"
      "no interrupt injected at an exit, and under --clock virtual no clock value;\n"
      "dump says so on stderr. `rrvm replay` recomputes them, `rrvm bisect` compares\n"
      "them between two executions.",
      [](const std::string&, TraceReader& r, const po::variables_map& vm) -> int {
        if (r.header().reads_modelled)
          std::cerr << "rrvm: note: this trace leaves read values, interrupts at exits"
                    << (r.header().clock_mode == "virtual" ? " and guest time" : "")
                    << " to the device models (not stored; replay recomputes them)\n";
        trace::dump(r, dump_filter(vm), vm["json"].as<bool>(), std::cout);
        return kExitOk;
      });
}

int cmd_verify(const std::vector<std::string>& args) {
  return with_trace(
      args, po::options_description("Options"), "rrvm verify FILE.rrt [--json]",
      "Checks every frame's checksum and encoding, that exit ordinals never go\n"
      "backwards, that the trace is complete, that footer and index agree with\n"
      "the events, and every embedded image against its hash. Exit 0 when all\n"
      "holds, 65 otherwise (the first problem on stderr).",
      [](const std::string& path, TraceReader& r, const po::variables_map& vm) -> int {
        trace::VerifyResult v = trace::verify(r);
        if (vm["json"].as<bool>())
          std::cout << trace::verify_json(path, v);
        else if (v.problems.empty())
          std::cout << path << ": ok, " << v.summary.events << " events, complete\n";
        if (v.problems.empty()) return kExitOk;
        std::string more = v.problems.size() > 1
                               ? " (and " + std::to_string(v.problems.size() - 1) + " more)"
                               : "";
        return fail(kExitDataErr, path + ": " + v.problems.front() + more);
      });
}

// The blob is checked against its size and hash first (one part in memory
// at a time) and written only then, so a damaged or lying blob never leaves
// a file behind.
int write_blob(TraceReader& r, const std::string& hash, const std::string& out) {
  r.read_blob(hash, [](std::span<const uint8_t>) {});
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  if (!f) throw OutputError("cannot create " + out + ": " + std::strerror(errno));
  r.read_blob(hash, [&](std::span<const uint8_t> part) {
    f.write(reinterpret_cast<const char*>(part.data()), std::streamsize(part.size()));
  });
  f.close();
  return f ? kExitOk : fail(kExitIoErr, "cannot write " + out);
}

int cmd_extract(const std::vector<std::string>& args) {
  po::options_description d("Options");
  d.add_options()("blob", po::value<std::string>()->value_name("HASH"),
                  "content hash, or a unique prefix of one (see rrvm info)")(
      "output,o", po::value<std::string>()->value_name("FILE"), "where to write it");
  return with_trace(
      args, d, "rrvm extract FILE.rrt --blob HASH -o FILE [--json]",
      "Writes an embedded guest image (kernel, initrd, ...) out of a trace. The\n"
      "image is checked against its size and content hash before anything is\n"
      "written: a damaged one leaves no file (exit 65).",
      [](const std::string& path, TraceReader& r, const po::variables_map& vm) -> int {
        if (!vm.count("blob") || !vm.count("output"))
          throw UsageError("--blob HASH and -o FILE are required");
        std::string prefix = vm["blob"].as<std::string>(), out = vm["output"].as<std::string>();
        std::vector<trace::BlobInfo> match;
        for (const auto& b : r.blobs()) {
          if (b.hash == prefix) {
            match = {b};  // a whole hash is never ambiguous
            break;
          }
          if (b.hash.rfind(prefix, 0) == 0) match.push_back(b);
        }
        if (match.size() != 1)
          throw UsageError(std::string(match.empty() ? "no" : "more than one") + " blob in " +
                           path + " has a hash starting with '" + prefix + "'");
        if (int rc = write_blob(r, match[0].hash, out)) return rc;
        if (vm["json"].as<bool>()) {
          trace::JsonWriter j;
          j.begin_object().field("hash", match[0].hash).field("role", match[0].role);
          j.field("bytes", match[0].size).field("output", out).end_object();
          std::cout << j.str() << "\n";
        }
        return kExitOk;
      });
}

}  // namespace

RRVM_COMMAND("info", "summarize a trace: machine, images, event counts, size", cmd_info);
RRVM_COMMAND("dump", "print a trace's events, one per line", cmd_dump);
RRVM_COMMAND("verify", "check a trace's checksums, order, completeness and images", cmd_verify);
RRVM_COMMAND("extract", "write an embedded guest image out of a trace", cmd_extract);

}  // namespace rrvm::cli
