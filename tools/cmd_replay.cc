// rrvm replay: re-execute a recorded trace and check it against the recording.
#include <iostream>

#include "firmware/load_error.h"
#include "replay/replay_session.h"
#include "replay/trace_header.h"
#include "replay/untrappable.h"
#include "tools/command.h"
#include "tools/gdb_serve.h"
#include "tools/machine_options.h"
#include "tools/run_status.h"
#include "tools/serial_sink.h"
#include "trace/json_writer.h"
#include "trace/text_escape.h"
#include "vmm/kicker.h"
#include "vmm/option_value.h"

namespace rrvm::cli {
namespace {

constexpr const char* kHelp =
    "Re-executes a trace made by `rrvm record`, with the machine configuration and\n"
    "guest images stored in it, feeding back every recorded input: no host clock,\n"
    "network or console is touched, and idle time is skipped. The guest's serial\n"
    "output is printed again, byte for byte.\n\n"
    "Replay is verified, not trusted: register and memory digests in the trace are\n"
    "checked as it goes, and the first disagreement stops it with a report.\n"
    "The guest gets the CPUID table stored in the trace, not one built for this\n"
    "host; a host whose KVM lacks a feature that table has is refused before the\n"
    "replay starts, naming the feature (exit 69).\n"
    "Exit status: 0 replay matched the recording, 1 divergence, 65 corrupt trace,\n"
    "66 missing file, 69 /dev/kvm unusable or a CPU feature missing. A truncated\n"
    "trace replays up to where it ends (status 0).\n\n"
    "With --gdb the replay stops before the first instruction and waits for gdb\n"
    "(GDB remote protocol): break, watch, stepi, continue, and backwards with\n"
    "reverse-stepi and reverse-continue; `monitor help` lists rrvm's own commands.\n"
    "  rrvm replay t.rrt --gdb 1234             then in gdb: target remote :1234\n"
    "  gdb guest.elf -ex 'target remote | rrvm replay t.rrt --gdb -'\n"
    "The replay is read-only: register and memory writes are refused. Going\n"
    "backwards restores a checkpoint (taken every --checkpoint-every exits, within\n"
    "--checkpoint-memory) and replays forward from it.";

void print_json(const ReplaySummary& s, bool matched) {
  trace::JsonWriter j;
  j.begin_object()
      .field("matched", matched)
      .field("reason", to_string(s.result.reason))
      .field("exits", s.stats.exits)
      .field("events", s.stats.events)
      .field("landmarks", s.stats.landmarks)
      .field("breakpoint_hits", s.stats.breakpoint_hits)
      .field("single_steps", s.stats.single_steps)
      .field("digests_checked", s.stats.digests_checked)
      .field("modelled", s.stats.modelled)
      .field("model_mismatches", s.stats.model_mismatches);
  json_completions(j, s.stats.completions);
  std::cout << j.end_object().str() << "\n";
}

// The footer's final digests against the replay's end (a register digest
// of 0 is a trace written before rrvm stored one).
std::string end_differs(const trace::FooterInfo& f, const ReplaySummary& s) {
  if (f.final_mem_digest != s.final_memory_digest)
    return "replay reached the end but guest memory differs from the recording's";
  if (f.final_reg_digest && f.final_reg_digest != s.final_register_digest)
    return "replay reached the end but the registers differ from the recording's";
  return "";
}

// With --gdb, also a checkpoint per 0.1 s of replay: going back then costs
// at most about that much replay before the single-stepping.
constexpr double kCheckpointSeconds = 0.1;

CheckpointPolicy checkpoint_policy(const po::variables_map& vm, bool debugging) {
  CheckpointPolicy p;
  try {
    p.memory_bytes = parse_size(vm["checkpoint-memory"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw UsageError("--checkpoint-memory: " + std::string(e.what()));
  }
  // A plain replay goes through once: only the debugger goes back.
  p.every_exits = debugging ? vm["checkpoint-every"].as<Count>().value : 0;
  p.every_seconds = debugging ? kCheckpointSeconds : 0;
  return p;
}

int replay(const std::string& path, const po::variables_map& vm) {
  std::optional<GdbEndpoint> ep = gdb_endpoint(vm.count("gdb") ? vm["gdb"].as<std::string>() : "");
  CheckpointPolicy policy = checkpoint_policy(vm, ep.has_value());  // usage errors first
  trace::TraceReader reader(path);
  MachineConfig cfg = config_from_trace(reader.header());
  apply_option(cfg, "serial", vm["serial"].as<std::string>());
  bool json = wants_json_summary(vm, cfg);
  MachineImages images = images_from_trace(reader);
  RecordedCpu cpu = cpu_from_trace(reader.header());
  // With --gdb -, stdout is the protocol: take it before anything can print.
  std::optional<GdbConnection> conn;
  if (ep && ep->stdio) conn.emplace(stdio_gdb_connection());
  auto serial = open_serial(cfg.serial);
  Kicker::install_stop_signals();
  ReplayOptions opts = replay_options_for(reader);
  if (!opts.models_note.empty()) std::cerr << "rrvm: note: " << opts.models_note << "\n";
  opts.until = vm["until"].as<Count>().value;
  opts.verify = !vm["no-verify"].as<bool>();
  ReplaySession session(reader, cfg, images, *serial, opts, policy, &cpu);
  print_cpu_warnings(session.machine());
  if (ep) return serve_gdb(session, *ep, conn, "the replay");
  ReplaySummary s = session.summary(session.run());
  bool finished = s.result.reason != StopReason::kDiverged &&
                  s.result.reason != StopReason::kEndOfTrace &&
                  s.result.reason != StopReason::kInterrupted;
  if (finished && opts.verify && reader.footer()) {
    if (std::string why = end_differs(*reader.footer(), s); !why.empty()) {
      if (!opts.models_note.empty()) why += "\n  note: " + opts.models_note;
      s.result = {StopReason::kDiverged, 1, why, s.result.exits};
    }
  }
  // A divergence with nothing to blame near RIP (a digest): name the
  // untrappable instructions in the kernel, the usual cause.
  if (s.result.reason == StopReason::kDiverged &&
      s.result.message.find("hint: ") == std::string::npos)
    s.result.message += untrappable_in_kernel_hint(images.kernel);
  bool matched =
      s.result.reason != StopReason::kDiverged && s.result.reason != StopReason::kInterrupted;
  if (!reader.complete())
    std::cerr << "rrvm: note: " << path << " is incomplete: " << reader.truncation() << "\n";
  if (json) print_json(s, matched);
  if (!matched) return report_run_result(s.result);
  if (s.result.reason == StopReason::kEndOfTrace)
    std::cerr << "rrvm: " << trace::escape_text(s.result.message, trace::Escape::kLines) << "\n";
  std::cerr << "rrvm: replay matched the recording: " << s.stats.exits << " exits, "
            << s.stats.events << " events"
            << (s.stats.modelled ? " (and " + std::to_string(s.stats.modelled) +
                                       " reads and injections from the device models)"
                                 : std::string())
            << ", " << s.stats.landmarks << " landmarks (" << s.stats.breakpoint_hits
            << " breakpoint hits, " << s.stats.single_steps << " single-steps), "
            << s.stats.digests_checked << " digests verified; run ended by "
            << to_string(s.result.reason) << ", status " << s.result.status << "\n";
  note_completions(s.stats.completions);
  if (s.stats.model_mismatches) {
    std::cerr << "rrvm: note: the device models disagreed with " << s.stats.model_mismatches
              << " recorded read values (first: " << s.stats.first_model_mismatch
              << "); the recorded values were used\n";
  }
  return kExitOk;
}

int cmd_replay(const std::vector<std::string>& args) {
  std::string path;
  po::options_description desc("Replay options");
  desc.add_options()("trace", po::value<std::string>(&path)->value_name("FILE"), "trace to replay")(
      "until", po::value<Count>()->value_name("N")->default_value({0}, "0"),
      "stop after exit N (0: replay to the end)")("no-verify", po::bool_switch(),
                                                  "do not check register and memory digests")(
      "gdb", po::value<std::string>()->value_name("[HOST:]PORT|-"),
      "serve the replay to gdb: on a TCP port (loopback unless HOST is given), or on "
      "stdin/stdout with '-' (target remote | rrvm replay t.rrt --gdb -)")(
      "checkpoint-memory", po::value<std::string>()->value_name("SIZE")->default_value("512M"),
      "memory for checkpoints with --gdb; older ones are thinned to stay within it")(
      "checkpoint-every", po::value<Count>()->value_name("N")->default_value({2000}, "2000"),
      "with --gdb, take a checkpoint every N exits (and every 0.1 s of replay)");
  desc.add(machine_options({"serial"}, "Output options")).add(json_summary_option());
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  try {
    if (!parse_args(args, desc, pos, vm, "rrvm replay FILE.rrt [options]", kHelp)) return kExitOk;
  } catch (const UsageError& e) {
    if (std::string(e.what()).find("unrecognised") == std::string::npos) throw;
    throw UsageError(std::string(e.what()) +
                     "; replay takes the machine from the trace (to change it, use rrvm bisect "
                     "--override)");
  }
  if (path.empty()) throw UsageError("which trace? usage: rrvm replay FILE.rrt");
  return reading(path, [&] { return replay(path, vm); });
}

}  // namespace

RRVM_COMMAND("replay", "re-execute a trace exactly and verify it against the recording",
             cmd_replay);

}  // namespace rrvm::cli
