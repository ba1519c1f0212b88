#include "replay/gdb_server.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "replay/gdb_monitor.h"
#include "replay/gdb_packet.h"
#include "replay/gdb_target_description.h"

namespace rrvm {
namespace {

using gdb::parse_hex;

// gdb prints "E." replies to G and P in its error message ("Could not write
// register ...; remote failure reply 'E.…'"); M and X show as "Cannot
// access memory".
constexpr const char* kReadOnly =
    "E.rrvm: a replay is read-only: registers and memory cannot be changed";
constexpr const char* kBadPacket = "E01";
constexpr const char* kNoMemory = "E14";  // EFAULT, gdb's convention for m
// One vCPU, reported as thread 1 of process 1.
constexpr const char* kThreadId = "1";
// Text per 'O' packet of monitor output: 2 hex digits a byte, well inside
// PacketSize.
constexpr size_t kConsoleChunk = 2048;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

// "ADDR,LEN" (m, qXfer offsets).
std::optional<std::pair<uint64_t, uint64_t>> parse_pair(std::string_view s) {
  auto parts = split(s, ',');
  if (parts.size() != 2) return std::nullopt;
  auto a = parse_hex(parts[0]), b = parse_hex(parts[1]);
  if (!a || !b) return std::nullopt;
  return std::pair{*a, *b};
}

const char* watch_reason(BreakpointKind kind) {
  switch (kind) {
    case BreakpointKind::kRead:
      return "rwatch";
    case BreakpointKind::kAccess:
      return "awatch";
    default:
      return "watch";
  }
}

std::string hex_u64(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// A vCont action's thread suffix names us: none, -1 (all), 0 (any) or 1.
bool names_our_thread(std::string_view action) {
  size_t colon = action.find(':');
  if (colon == std::string_view::npos) return true;
  std::string_view tid = action.substr(colon + 1);
  return tid == "-1" || tid == "0" || parse_hex(tid) == 1u;
}

}  // namespace

std::string gdb_stop_reply(const StopEvent& stop, bool swbreak, bool hwbreak) {
  using Kind = StopEvent::Kind;
  std::string t = std::string("T05thread:") + kThreadId + ";";
  switch (stop.kind) {
    case Kind::kStepped:
      return t;
    case Kind::kBreakpoint:
      if (stop.breakpoint.kind == BreakpointKind::kHardware) return hwbreak ? t + "hwbreak:;" : t;
      return swbreak ? t + "swbreak:;" : t;
    case Kind::kWatchpoint:
      return t + watch_reason(stop.breakpoint.kind) + ":" + hex_u64(stop.data_addr) + ";";
    case Kind::kHistoryStart:
      return t + "replaylog:begin;";
    case Kind::kHistoryEnd:
      return t + "replaylog:end;";
    case Kind::kExited: {
      char w[8];
      std::snprintf(w, sizeof w, "W%02x", stop.exit_status & 0xff);
      return w;
    }
    case Kind::kInterrupted:
      return std::string("T02thread:") + kThreadId + ";";  // SIGINT
  }
  return t;
}

GdbServer::GdbServer(DebugTarget& target, GdbConnection& connection)
    : target_(target), conn_(connection) {}

GdbServer::End GdbServer::serve() {
  try {
    while (!end_) {
      std::optional<std::string> packet = conn_.read_packet();
      if (!packet) return End::kDisconnected;
      if (std::optional<std::string> reply = handle(*packet)) conn_.send_packet(*reply);
    }
  } catch (const GdbError&) {
    return End::kDisconnected;
  }
  return *end_;
}

std::optional<std::string> GdbServer::handle(std::string_view p) {
  if (p.empty()) return "";
  std::string_view args = p.substr(1);
  switch (p[0]) {
    case '?':
      return last_stop_;
    case 'g':
      return gdb::encode_registers(target_.registers());
    case 'p':
      return read_register(args);
    case 'm':
      return read_memory(args);
    case 'G':
    case 'P':
    case 'M':
    case 'X':
      return kReadOnly;
    case 'c':
    case 's':
    case 'C':
    case 'S':
    case 'b':
      return resume_packet(p);
    case 'Z':
    case 'z':
      return breakpoint(p[0] == 'Z', args);
    case 'q':
      return query(p);
    case 'Q':
      if (p != "QStartNoAckMode") return "";
      conn_.send_packet("OK");  // still acknowledged by gdb
      conn_.disable_acks();
      return std::nullopt;
    case 'v':
      return v_packet(p);
    case 'H':
      return "OK";  // one thread: every thread selection is it
    case 'T':       // is thread ARGS alive?
      return parse_hex(args) == 1u ? "OK" : "E01";
    case 'D':
      end_ = End::kDetached;
      return "OK";
    case 'k':
      end_ = End::kKilled;  // gdb does not wait for a reply
      return std::nullopt;
    default:
      return "";
  }
}

// s, c, S SIG, C SIG, bs, bc. An address argument ("c ADDR", "C SIG;ADDR")
// would move RIP, and a signal cannot be injected into a recording: the
// first is refused, the second dropped.
std::string GdbServer::resume_packet(std::string_view p) {
  std::string_view args = p.substr(1);
  bool with_signal = p[0] == 'C' || p[0] == 'S';
  if (p == "bs") return resume(ResumeKind::kReverseStep);
  if (p == "bc") return resume(ResumeKind::kReverseContinue);
  if (p[0] == 'b') return "";
  if (with_signal ? args.find(';') != std::string_view::npos : !args.empty())
    return "E.rrvm: a replay cannot resume at another address";
  return resume(p[0] == 's' || p[0] == 'S' ? ResumeKind::kStep : ResumeKind::kContinue);
}

std::string GdbServer::query(std::string_view p) {
  if (p.starts_with("qSupported")) return supported(p.substr(10));
  if (p.starts_with("qXfer:features:read:")) return read_features(p.substr(20));
  if (p.starts_with("qRcmd,")) return monitor(p.substr(6));
  if (p == "qAttached") return "1";  // gdb detaches on quit instead of killing
  if (p == "qC") return std::string("QC") + kThreadId;
  if (p == "qfThreadInfo") return std::string("m") + kThreadId;
  if (p == "qsThreadInfo") return "l";
  if (p.starts_with("qThreadExtraInfo,")) return gdb::to_hex(std::string_view("vCPU 0"));
  if (p == "qSymbol::") return "OK";  // no symbols wanted
  return "";
}

std::string GdbServer::supported(std::string_view features) {
  for (std::string_view f : split(features.starts_with(':') ? features.substr(1) : "", ';')) {
    if (f == "swbreak+") gdb_swbreak_ = true;
    if (f == "hwbreak+") gdb_hwbreak_ = true;
  }
  char size[16];
  std::snprintf(size, sizeof size, "%zx", gdb::kMaxPacketSize);
  return std::string("PacketSize=") + size +
         ";qXfer:features:read+;swbreak+;hwbreak+;ReverseStep+;ReverseContinue+;"
         "QStartNoAckMode+";
}

// "target.xml:OFFSET,LENGTH" → 'm' + data when more follows, 'l' + data at
// the end.
std::string GdbServer::read_features(std::string_view args) {
  size_t colon = args.find(':');
  if (colon == std::string_view::npos) return kBadPacket;
  if (args.substr(0, colon) != "target.xml") return "E00";  // no such annex
  auto range = parse_pair(args.substr(colon + 1));
  if (!range) return kBadPacket;
  const std::string& xml = gdb::target_xml();
  // Escaping may double a byte; keep the reply inside PacketSize.
  uint64_t len = std::min<uint64_t>(range->second, gdb::kMaxPacketSize / 2 - 1);
  if (range->first >= xml.size()) return "l";
  std::string_view part = std::string_view(xml).substr(range->first, len);
  bool last = range->first + part.size() >= xml.size();
  return (last ? "l" : "m") + gdb::escape_binary(part);
}

std::string GdbServer::monitor(std::string_view hex_command) {
  std::optional<std::string> command = gdb::from_hex(hex_command);
  if (!command) return kBadPacket;
  std::optional<std::string> builtin = gdb::builtin_monitor(target_, *command);
  std::string text = builtin ? *builtin : target_.monitor(*command);
  if (!builtin && *command == "help") text += gdb::builtin_monitor_help();
  // gdb prints 'O' packets as they come, then waits for OK.
  for (size_t at = 0; at < text.size(); at += kConsoleChunk)
    conn_.send_packet("O" + gdb::to_hex(std::string_view(text).substr(at, kConsoleChunk)));
  return "OK";
}

std::string GdbServer::read_register(std::string_view args) {
  std::optional<uint64_t> n = parse_hex(args);
  if (!n) return kBadPacket;
  std::optional<std::string> value = gdb::encode_register(target_.registers(), *n);
  return value ? *value : "E.rrvm: no such register";
}

std::string GdbServer::read_memory(std::string_view args) {
  auto range = parse_pair(args);
  if (!range) return kBadPacket;
  // Two hex digits a byte; a shorter reply makes gdb ask for the rest.
  std::vector<uint8_t> buf(std::min<uint64_t>(range->second, gdb::kMaxPacketSize / 2));
  size_t n = target_.read_memory(range->first, buf);
  if (n == 0 && !buf.empty()) return kNoMemory;
  return gdb::to_hex(std::span(buf.data(), n));
}

// "TYPE,ADDR,KIND[;cond...]": types 0 sw break, 1 hw break, 2 write, 3 read,
// 4 access watchpoint; KIND is the length for watchpoints.
std::string GdbServer::breakpoint(bool insert, std::string_view args) {
  auto parts = split(args.substr(0, args.find(';')), ',');
  if (parts.size() != 3 || parts[0].size() != 1 || parts[0][0] < '0' || parts[0][0] > '4')
    return "";  // a type we do not know: "not supported"
  auto addr = parse_hex(parts[1]), len = parse_hex(parts[2]);
  if (!addr || !len) return kBadPacket;
  Breakpoint bp{static_cast<BreakpointKind>(parts[0][0] - '0'), *addr, *len};
  if (!insert) {
    target_.remove_breakpoint(bp);
    return "OK";
  }
  std::string why;
  if (target_.insert_breakpoint(bp, &why)) return "OK";
  for (char& c : why)  // keep the text clear of framing characters
    if (c == '#' || c == '$' || c == '*' || c == '}') c = '?';
  return "E.rrvm: " + why;
}

std::string GdbServer::v_packet(std::string_view p) {
  if (p == "vCont?") return "vCont;c;C;s;S";
  if (p.starts_with("vCont;")) return vcont(p.substr(6));
  if (p.starts_with("vKill")) {
    end_ = End::kKilled;
    return "OK";
  }
  return "";
}

// Actions apply left to right; the first one naming our thread wins.
std::string GdbServer::vcont(std::string_view actions) {
  for (std::string_view a : split(actions, ';')) {
    if (a.empty() || !names_our_thread(a)) continue;
    switch (a[0]) {
      case 'c':
      case 'C':
        return resume(ResumeKind::kContinue);
      case 's':
      case 'S':
        return resume(ResumeKind::kStep);
      default:
        return "E.rrvm: vCont action not supported: " + std::string(a.substr(0, 1));
    }
  }
  return "E.rrvm: vCont names no thread of this target";
}

std::string GdbServer::resume(ResumeKind kind) {
  StopEvent stop = target_.resume(kind, conn_);
  last_stop_ = gdb_stop_reply(stop, gdb_swbreak_, gdb_hwbreak_);
  return last_stop_;
}

}  // namespace rrvm
