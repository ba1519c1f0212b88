// rrvm record: run a guest and write every nondeterministic input to a trace.
#include <iostream>

#include "replay/session.h"
#include "replay/trace_header.h"
#include "tools/command.h"
#include "tools/machine_options.h"
#include "tools/run_status.h"
#include "tools/serial_sink.h"
#include "vmm/kicker.h"

namespace rrvm::cli {
namespace {

constexpr const char* kHelp =
    "Runs a guest exactly as `rrvm run` does (same serial output, same exit status)\n"
    "and writes a trace: the machine configuration, the guest images, and every\n"
    "input the guest saw. `rrvm replay FILE` re-executes it bit for bit.\n\n"
    "What is reproducible: everything the guest observes through port and MMIO\n"
    "reads, device clocks and interrupts, including interrupts that land in a busy\n"
    "loop (recorded as landmarks: registers + dirty-memory digest at the kick).\n"
    "Not trappable by KVM: RDTSC, RDRAND, RDSEED; guests must not rely on them.\n"
    "Landmarks inside ring-3 code record fine but replay only on hosts whose KVM\n"
    "reports debug exits from ring 3 (not nested PVM hosts).\n\n"
    "Recording twice gives the same trace only under --clock virtual, and only for\n"
    "a guest that never spins and gets no console or network input: its time comes\n"
    "from its exits and HLTs, so host load and stalls do not show. A spinning\n"
    "guest's timer interrupts (and everything under --clock host) differ between\n"
    "recordings; each trace still replays exactly.\n\n"
    "What a trace stores: only what rrvm's device models cannot recompute. Read\n"
    "values and interrupts injected at exits follow from the models and the inputs\n"
    "already in the trace (clock values, packets, console input), so they are left\n"
    "out, and under --clock virtual so is every clock value (the halts and spins\n"
    "that move time are stored). Replay recomputes them and the register and memory\n"
    "digests verify them. Such a trace names the device models that recorded it;\n"
    "replay by a build whose models differ says so up front, and the digests stop it\n"
    "where they answer differently. --log-values stores every value instead, as\n"
    "format 1.0 traces did: larger, but it replays on any rrvm build, 1.0 ones too.\n\n"
    "SIGINT/SIGTERM end the recording cleanly with a complete trace; a killed\n"
    "recording leaves a trace that replays up to its last complete frame.";

po::options_description record_options() {
  po::options_description d("Recording options");
  d.add_options()("output,o", po::value<std::string>()->value_name("FILE"),
                  "trace file to write (required)")(
      "level", po::value<int>()->value_name("N")->default_value(3), "zstd level, 1..19")(
      "reg-digest-every", po::value<Count>()->value_name("N")->default_value({4096}, "4096"),
      "register digest every N exits (0: none)")(
      "mem-digest-every", po::value<Count>()->value_name("N")->default_value({4096}, "4096"),
      "dirty-memory digest every N exits (0: none)")(
      "log-values", po::bool_switch(),
      "store every read and clock value, as format 1.0 did: for traces that must replay "
      "on rrvm builds whose device models differ");
  return d;
}

// A trace file that cannot be created is an output error (73); a write that
// fails later is an I/O error (74, see tools/error_policy.h).
trace::TraceWriter create_trace(const std::string& path, const trace::HeaderInfo& header,
                                const trace::WriterOptions& opts) {
  try {
    return trace::TraceWriter(path, header, opts);
  } catch (const trace::TraceWriteError& e) {
    throw OutputError(e.what());
  }
}

int record(const MachineConfig& cfg, const po::variables_map& vm) {
  std::string out = vm["output"].as<std::string>();
  MachineImages images = read_images(cfg);
  auto serial = open_serial(cfg.serial);
  Kicker::install_stop_signals();
  Machine machine(cfg, images, *serial);
  print_cpu_warnings(machine);
  connect_network(machine, cfg);
  trace::WriterOptions wopts;
  wopts.level = vm["level"].as<int>();
  bool log_values = vm["log-values"].as<bool>();
  trace::TraceWriter writer =
      create_trace(out, make_trace_header(cfg, machine, images, RRVM_VERSION, !log_values), wopts);
  write_image_blobs(writer, images);
  RecordOptions ropts;
  ropts.reg_digest_every = vm["reg-digest-every"].as<Count>().value;
  ropts.mem_digest_every = vm["mem-digest-every"].as<Count>().value;
  ropts.log_values = log_values;
  RecordSummary s = record_machine(machine, writer, ropts);
  trace::FooterInfo footer;
  footer.total_events = s.events;
  footer.exits = s.result.exits;
  footer.final_mem_digest = s.final_memory_digest;
  footer.final_reg_digest = s.final_register_digest;
  footer.end_reason = to_string(s.result.reason);
  footer.guest_status = s.result.status;
  writer.close(footer);
  std::cerr << "rrvm: recorded " << s.events << " events (" << s.landmarks << " landmarks) over "
            << s.result.exits << " exits into " << out;
  if (s.modelled)
    std::cerr << "; " << s.modelled << " reads and injections left to the device models";
  std::cerr << "\n";
  note_completions(s.result.completions);
  int status = report_run_result(s.result);
  if (vm["json"].as<bool>()) {
    print_run_json(s.result, status, [&](trace::JsonWriter& j) {
      j.field("trace", out).field("events", s.events).field("landmarks", s.landmarks);
      j.field("modelled", s.modelled).field("log_values", log_values);
    });
  }
  return status;
}

int cmd_record(const std::vector<std::string>& args) {
  po::options_description desc;
  desc.add(record_options()).add(machine_options()).add(json_summary_option());
  po::variables_map vm;
  if (!parse_args(args, desc, {}, vm, "rrvm record -o FILE.rrt --kernel FILE [options]", kHelp)) {
    return kExitOk;
  }
  if (!vm.count("output")) throw UsageError("-o FILE is required");
  int level = vm["level"].as<int>();
  if (level < 1 || level > 19) throw UsageError("--level must be 1..19");
  MachineConfig cfg = guest_config(vm);
  wants_json_summary(vm, cfg);
  return record(cfg, vm);
}

}  // namespace

RRVM_COMMAND("record", "run a guest and record its inputs into a trace (.rrt)", cmd_record);

}  // namespace rrvm::cli
