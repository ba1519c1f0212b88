// The GDB server packet by packet, over a socket pair, against the scripted
// history target (tests/gdb/history_target.h) and small scripted targets.
#include "replay/gdb_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replay/gdb_packet.h"
#include "replay/gdb_target_description.h"
#include "tests/gdb/history_target.h"

namespace rrvm {
namespace {

using testing::HistoryEnd;
using testing::HistoryTarget;

// What the server sent back for a batch of input.
struct Exchange {
  std::vector<std::string> replies;  // packet bodies, in order
  size_t acks = 0;
  size_t naks = 0;
  GdbServer::End end = GdbServer::End::kDisconnected;
};

// A last packet after the test's own, whose reply is dropped: a real gdb
// stays connected while the target runs, and a closed connection would
// read as an interrupt to the last continue.
constexpr std::string_view kSentinel = "$qC#b4";

// Writes `input` (raw bytes) as gdb would, closes gdb's side, serves until
// the server stops, and decodes everything it sent.
Exchange serve_input(DebugTarget& target, const std::string& input, bool sentinel = true) {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  std::string bytes = input + std::string(sentinel ? kSentinel : "");
  EXPECT_EQ(write(fds[1], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  shutdown(fds[1], SHUT_WR);
  Exchange ex;
  {
    GdbConnection conn(fds[0], fds[0]);
    ex.end = GdbServer(target, conn).serve();
  }  // closes the server's end
  gdb::PacketDecoder decoder;
  char buf[65536];
  for (ssize_t n; (n = read(fds[1], buf, sizeof buf)) > 0;)
    decoder.feed(std::string_view(buf, static_cast<size_t>(n)));
  close(fds[1]);
  using Kind = gdb::PacketDecoder::Item::Kind;
  while (auto item = decoder.next()) {
    if (item->kind == Kind::kPacket) ex.replies.push_back(item->body);
    if (item->kind == Kind::kBadPacket) ADD_FAILURE() << "the server sent a corrupt packet";
    ex.acks += item->kind == Kind::kAck;
    ex.naks += item->kind == Kind::kNak;
  }
  if (sentinel && ex.end == GdbServer::End::kDisconnected) {
    EXPECT_EQ(ex.replies.back(), "QC1");
    ex.replies.pop_back();
    ex.acks -= ex.acks > 0;
  }
  return ex;
}

std::string packets(std::initializer_list<std::string_view> bodies) {
  std::string s;
  for (auto b : bodies) s += gdb::frame_packet(b);
  return s;
}

// The replies to `bodies`, one packet each.
std::vector<std::string> ask(DebugTarget& target, std::initializer_list<std::string_view> bodies) {
  return serve_input(target, packets(bodies)).replies;
}

std::string ask1(DebugTarget& target, std::string_view body) {
  auto r = ask(target, {body});
  return r.size() == 1 ? r[0] : "<" + std::to_string(r.size()) + " replies>";
}

std::string hex_digits(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

const char* kSupported = "qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386";

TEST(GdbServer, AcknowledgesEveryPacketAndNaksCorruptOnes) {
  HistoryTarget t;
  Exchange ex = serve_input(t, "$?#3f$g#00$qC#b4", false);
  EXPECT_EQ(ex.acks, 2u);
  EXPECT_EQ(ex.naks, 1u);
  ASSERT_EQ(ex.replies.size(), 2u);
  EXPECT_EQ(ex.replies[1], "QC1");
}

TEST(GdbServer, ResendsItsLastPacketOnNak) {
  HistoryTarget t;
  Exchange ex = serve_input(t, "$qC#b4-+", false);
  ASSERT_EQ(ex.replies.size(), 2u);
  EXPECT_EQ(ex.replies[0], "QC1");
  EXPECT_EQ(ex.replies[1], "QC1");
}

TEST(GdbServer, NoAckModeStopsAcknowledgements) {
  HistoryTarget t;
  Exchange ex = serve_input(t, packets({"QStartNoAckMode", "qC", "?"}), false);
  EXPECT_EQ(ex.acks, 1u) << "only QStartNoAckMode itself is acknowledged";
  EXPECT_EQ(ex.replies, (std::vector<std::string>{"OK", "QC1", "T05thread:1;"}));
}

TEST(GdbServer, QSupportedAdvertisesReverseExecutionAndTheTargetDescription) {
  HistoryTarget t;
  std::string r = ask1(t, kSupported);
  for (const char* f : {"PacketSize=4000", "qXfer:features:read+", "swbreak+", "hwbreak+",
                        "ReverseStep+", "ReverseContinue+", "QStartNoAckMode+"})
    EXPECT_NE(r.find(f), std::string::npos) << f << " in " << r;
}

TEST(GdbServer, ServesTheTargetDescriptionInPieces) {
  HistoryTarget t;
  const std::string& xml = gdb::target_xml();
  std::string got;
  for (size_t off = 0;; off += 1000) {
    std::string r = ask1(t, "qXfer:features:read:target.xml:" + hex_digits(off) + ",3e8");
    ASSERT_TRUE(r[0] == 'm' || r[0] == 'l') << r;
    got += r.substr(1);
    if (r[0] == 'l') break;
    ASSERT_LT(off, 100000u);
  }
  EXPECT_EQ(got, xml);
  EXPECT_EQ(ask1(t, "qXfer:features:read:target.xml:ffff0,10"), "l");
  EXPECT_EQ(ask1(t, "qXfer:features:read:other.xml:0,10"), "E00");
  EXPECT_EQ(ask1(t, "qXfer:features:read:target.xml:zz"), "E01");
}

TEST(GdbServer, OneThreadAttachedToAStoppedTarget) {
  HistoryTarget t;
  EXPECT_EQ(ask(t, {"?", "qC", "qfThreadInfo", "qsThreadInfo", "qAttached", "Hg0", "Hc-1", "T1",
                    "T2", "qSymbol::"}),
            (std::vector<std::string>{"T05thread:1;", "QC1", "m1", "l", "1", "OK", "OK", "OK",
                                      "E01", "OK"}));
  EXPECT_EQ(gdb::from_hex(ask1(t, "qThreadExtraInfo,1")), "vCPU 0");
}

TEST(GdbServer, ReadsRegisters) {
  HistoryTarget t;
  t.seek(t.find(testing::kLoop));
  DebugRegisters regs = t.registers();
  EXPECT_EQ(ask1(t, "g"), gdb::encode_registers(regs));
  EXPECT_EQ(ask1(t, "p10"), "3900100000000000") << "rip (register 16)";
  EXPECT_EQ(ask1(t, "p40"), *gdb::encode_register(regs, 0x40)) << "efer";
  EXPECT_EQ(ask1(t, "p41").substr(0, 2), "E.");
  EXPECT_EQ(ask1(t, "pzz"), "E01");
}

TEST(GdbServer, ReadsMemoryUpToTheFirstUnmappedByte) {
  HistoryTarget t;
  EXPECT_EQ(ask1(t, "m100000,5"), "bc00401000") << "mov esp, 0x104000";
  EXPECT_EQ(ask1(t, "m103ffe,4"), "0000") << "the last two mapped bytes only";
  EXPECT_EQ(ask1(t, "mffff0000,4"), "E14");
  EXPECT_EQ(ask1(t, "m100000"), "E01");
  EXPECT_EQ(ask1(t, "m100000,100000").size(), 0x4000u) << "bounded by PacketSize";
}

TEST(GdbServer, RefusesWritesWithAMessage) {
  HistoryTarget t;
  std::string regs = gdb::encode_registers(t.registers());
  for (std::string_view p :
       {std::string_view("G"), std::string_view("P10=0000000000000000"),
        std::string_view("M100000,1:cc"), std::string_view("X100000,1:\xcc")}) {
    std::string body = std::string(p) + (p == "G" ? regs : "");
    std::string r = ask1(t, body);
    EXPECT_EQ(r.substr(0, 2), "E.") << p;
    EXPECT_NE(r.find("read-only"), std::string::npos) << r;
  }
  EXPECT_EQ(t.registers().rip, testing::kEntry);
  std::array<uint8_t, 1> b{};
  t.read_memory(0x100000, b);
  EXPECT_EQ(b[0], 0xbc);
}

TEST(GdbServer, UnknownPacketsGetTheEmptyReply) {
  HistoryTarget t;
  EXPECT_EQ(ask(t, {"vMustReplyEmpty", "qTStatus", "!", "Z5,100000,1", "bx", "QNonStop:1",
                    "vFile:open:"}),
            std::vector<std::string>(7, ""));
}

TEST(GdbServer, StepsAndContinuesToBreakpoints) {
  HistoryTarget t;
  auto r = ask(t, {kSupported, "s", "vCont;s:1;c", "Z0,100039,1", "c"});
  EXPECT_EQ(r[1], "T05thread:1;");
  EXPECT_EQ(r[2], "T05thread:1;") << "the first action for our thread counts";
  EXPECT_EQ(r[3], "OK");
  EXPECT_EQ(r[4], "T05thread:1;swbreak:;");
  EXPECT_EQ(t.position(), t.find(testing::kLoop));
  r = ask(t, {kSupported, "z0,100039,1", "Z1,100039,1", "vCont;c"});
  EXPECT_EQ(r[3], "T05thread:1;hwbreak:;");
  EXPECT_EQ(t.position(), t.find(testing::kLoop, t.find(testing::kLoop) + 1)) << "the next hit";
}

TEST(GdbServer, BreakpointReasonsOnlyWhenGdbUnderstandsThem) {
  HistoryTarget t;
  EXPECT_EQ(ask(t, {"qSupported:xmlRegisters=i386", "Z0,100039,1", "c"})[2], "T05thread:1;");
}

TEST(GdbServer, VContParsing) {
  HistoryTarget t;
  auto r = ask(t, {"vCont?", "vCont;c:2", "vCont;r100000,100005:1", "vCont;S05:-1"});
  EXPECT_EQ(r[0], "vCont;c;C;s;S");
  EXPECT_EQ(r[1].substr(0, 2), "E.") << "no such thread";
  EXPECT_EQ(r[2].substr(0, 2), "E.") << "range stepping is not offered";
  EXPECT_EQ(r[3], "T05thread:1;") << "a signal cannot be injected: S steps";
  EXPECT_EQ(t.position(), 1u);
  EXPECT_EQ(ask1(t, "C05"), "W07") << "and C continues (here to the guest's exit)";
}

TEST(GdbServer, ResumingElsewhereIsRefused) {
  HistoryTarget t;
  EXPECT_EQ(ask1(t, "c100039").substr(0, 2), "E.");
  EXPECT_EQ(ask1(t, "s100039").substr(0, 2), "E.");
  EXPECT_EQ(ask1(t, "C05;100039").substr(0, 2), "E.");
  EXPECT_EQ(t.position(), 0u);
}

TEST(GdbServer, WatchpointsReportTheirKindAndAddress) {
  HistoryTarget t;
  auto r = ask(t, {"Z2,102000,4", "c"});
  EXPECT_EQ(r[1], "T05thread:1;watch:102000;");
  EXPECT_EQ(t.state(t.position() - 1).regs.rip, testing::kStore) << "stopped after the store";
  r = ask(t, {"z2,102000,4", "Z3,102000,4", "c"});
  EXPECT_EQ(r[2], "T05thread:1;rwatch:102000;") << "the stores are not reads";
  EXPECT_EQ(t.state(t.position() - 1).regs.rip, testing::kLoad);
  r = ask(t, {"z3,102000,4", "Z4,102002,1", "bc", "bc"});
  EXPECT_EQ(r[2], "T05thread:1;awatch:102002;") << "going back: the load";
  EXPECT_EQ(r[3], "T05thread:1;awatch:102002;") << "then the last store";
  EXPECT_EQ(t.registers().rip, testing::kStore) << "stopped before it";
  EXPECT_EQ(t.position() + 3, t.find(testing::kLoad)) << "store, cmp, jne, load";
}

TEST(GdbServer, TargetRefusalsAreErrorsWithTheReason) {
  HistoryTarget t;
  std::string r = ask1(t, "Z2,102000,10");
  EXPECT_EQ(r, "E.rrvm: watch length 16 (1 to 8 bytes)");
}

TEST(GdbServer, MoreThanFourBreakpointsAreTheTargetsBusiness) {
  HistoryTarget t;
  auto r = ask(t, {"Z0,100000,1", "Z0,100005,1", "Z1,10000a,1", "Z0,10000b,1", "Z2,102000,4",
                   "Z3,102008,4", "Z0,100039,1"});
  EXPECT_EQ(r, std::vector<std::string>(7, "OK"));
  EXPECT_EQ(t.breakpoints().size(), 7u);
  EXPECT_EQ(t.breakpoints()[2], (Breakpoint{BreakpointKind::kHardware, 0x10000a, 1}));
  EXPECT_EQ(t.breakpoints()[5], (Breakpoint{BreakpointKind::kRead, 0x102008, 4}));
}

TEST(GdbServer, ReverseExecution) {
  HistoryTarget t;
  EXPECT_EQ(ask1(t, "bs"), "T05thread:1;replaylog:begin;") << "nothing before the start";
  auto r = ask(t, {kSupported, "s", "s", "bs"});
  EXPECT_EQ(r[3], "T05thread:1;");
  EXPECT_EQ(t.position(), 1u);
  r = ask(t, {kSupported, "Z0,100039,1", "c", "c", "bc"});
  EXPECT_EQ(r[4], "T05thread:1;swbreak:;");
  EXPECT_EQ(t.position(), t.find(testing::kLoop)) << "the earlier hit";
  EXPECT_EQ(ask(t, {"z0,100039,1", "bc"})[1], "T05thread:1;replaylog:begin;");
  EXPECT_EQ(t.position(), 0u);
}

TEST(GdbServer, EndOfTraceAndGuestExit) {
  HistoryTarget truncated(HistoryEnd::kTruncated);
  EXPECT_EQ(ask(truncated, {"c", "?"}),
            (std::vector<std::string>{"T05thread:1;replaylog:end;", "T05thread:1;replaylog:end;"}));
  HistoryTarget exits;
  EXPECT_EQ(ask(exits, {"c", "?"}), (std::vector<std::string>{"W07", "W07"}));
}

// Continues until interrupted, polling like a replay would; gives up after
// many polls so a broken interrupt path fails instead of hanging.
class SpinTarget final : public DebugTarget {
 public:
  DebugRegisters registers() override { return {}; }
  size_t read_memory(uint64_t, std::span<uint8_t>) override { return 0; }
  bool insert_breakpoint(const Breakpoint&, std::string*) override { return true; }
  void remove_breakpoint(const Breakpoint&) override {}
  StopEvent resume(ResumeKind, InterruptCheck& interrupt) override {
    for (polls = 1; polls < 100000; ++polls)
      if (interrupt.requested()) return StopEvent::of(StopEvent::Kind::kInterrupted);
    return StopEvent::exited(0);
  }
  std::string monitor(std::string_view command) override {
    return std::string(command == "long" ? 5000 : 0, 'z') + "\n";
  }
  int polls = 0;
};

TEST(GdbServer, CtrlCStopsARunningContinue) {
  SpinTarget t;
  Exchange ex = serve_input(t, packets({"c"}) + "\x03" + packets({"?"}));
  EXPECT_EQ(ex.replies, (std::vector<std::string>{"T02thread:1;", "T02thread:1;"}));
  EXPECT_LT(t.polls, 100000);
}

TEST(GdbServer, ACtrlCWhileStoppedIsIgnored) {
  SpinTarget t;
  Exchange ex = serve_input(t, "\x03" + packets({"qC"}));
  EXPECT_EQ(ex.replies, std::vector<std::string>{"QC1"});
}

TEST(GdbServer, GdbGoingAwayStopsAContinue) {
  SpinTarget t;
  EXPECT_EQ(serve_input(t, packets({"c"}), false).end, GdbServer::End::kDisconnected);
  EXPECT_LT(t.polls, 100000) << "end of input reads as an interrupt";
}

std::string monitor_output(const std::vector<std::string>& replies) {
  std::string text;
  for (size_t i = 0; i + 1 < replies.size(); ++i) {
    EXPECT_EQ(replies[i][0], 'O');
    text += gdb::from_hex(replies[i].substr(1)).value_or("<bad hex>");
  }
  EXPECT_EQ(replies.back(), "OK");
  return text;
}

std::string monitor(DebugTarget& t, std::string_view cmd) {
  return monitor_output(ask(t, {"qRcmd," + gdb::to_hex(cmd)}));
}

TEST(GdbServer, MonitorCommandsReachTheTarget) {
  HistoryTarget t;
  EXPECT_EQ(monitor(t, "when"), "position 0 of 28\n");
  std::string help = monitor(t, "help");
  EXPECT_NE(help.find("when:"), std::string::npos) << "the target's";
  EXPECT_NE(help.find("disas"), std::string::npos) << "and the server's";
  EXPECT_NE(monitor(t, "frobnicate").find("unknown"), std::string::npos);
  EXPECT_EQ(ask1(t, "qRcmd,zz"), "E01");
  SpinTarget spin;
  auto r = ask(spin, {"qRcmd," + gdb::to_hex(std::string_view("long"))});
  EXPECT_EQ(r.size(), 4u) << "5001 bytes in 2048-byte console packets, then OK";
  EXPECT_EQ(monitor_output(r), std::string(5000, 'z') + "\n");
}

TEST(GdbServer, BuiltinMonitorCommandsDecodeInTheCpusMode) {
  HistoryTarget t;
  EXPECT_EQ(monitor(t, "mode"), "32-bit protected mode\n");
  EXPECT_EQ(monitor(t, "decode 0x100005 intel"), "5 mov eax, dword ptr [0x102008]\n")
      << "a1 is a 4-byte moffs in 32-bit code";
  EXPECT_EQ(monitor(t, "decode 0x10000a"), "1 incl %eax\n") << "0x40 is not a REX prefix here";
  EXPECT_EQ(monitor(t, "disas 0x100000 2"),
            "=> 0x100000:\tmovl $0x104000, %esp\n   0x100005:\tmovl 0x102008, %eax\n");
  EXPECT_NE(monitor(t, "decode 0xdead0000").find("error"), std::string::npos);
  EXPECT_NE(monitor(t, "disas 0x100000 0").find("usage"), std::string::npos);
  EXPECT_NE(monitor(t, "disas 0x100000 100000").find("usage"), std::string::npos);
  t.seek(t.find(testing::kLoop));
  EXPECT_EQ(monitor(t, "mode"), "64-bit long mode\n");
  EXPECT_EQ(monitor(t, "disas"), monitor(t, "disas 0x100039 8"));
  EXPECT_EQ(monitor(t, "decode 0x100032 intel"), "7 lea rbx, [rip + 0x1fc7]\n");
}

TEST(GdbServer, MonitorDecodeFollowsTheModeSwitch) {
  HistoryTarget t;
  for (const testing::ProgramInsn& insn : testing::program()) {
    t.seek(t.find(insn.addr));
    ASSERT_LT(t.position(), t.length());
    EXPECT_EQ(monitor(t, "decode 0x" + hex_digits(insn.addr) + " intel"),
              std::to_string(insn.bytes.size()) + " " + insn.text + "\n");
  }
}

TEST(GdbServer, DetachKillAndDisconnectEndTheSession) {
  HistoryTarget t;
  Exchange ex = serve_input(t, packets({"D", "qC"}));
  EXPECT_EQ(ex.end, GdbServer::End::kDetached);
  EXPECT_EQ(ex.replies, std::vector<std::string>{"OK"}) << "nothing is read after D";
  ex = serve_input(t, packets({"k"}));
  EXPECT_EQ(ex.end, GdbServer::End::kKilled);
  EXPECT_TRUE(ex.replies.empty()) << "gdb does not wait for a reply to k";
  ex = serve_input(t, packets({"vKill;1"}));
  EXPECT_EQ(ex.end, GdbServer::End::kKilled);
  EXPECT_EQ(ex.replies, std::vector<std::string>{"OK"});
  EXPECT_EQ(serve_input(t, packets({"qC"}), false).end, GdbServer::End::kDisconnected);
}

TEST(GdbStopReply, EveryKind) {
  using K = StopEvent::Kind;
  Breakpoint sw{BreakpointKind::kSoftware, 0x1000, 1}, hw{BreakpointKind::kHardware, 0x1000, 1};
  Breakpoint wr{BreakpointKind::kWrite, 0x2000, 4}, rd{BreakpointKind::kRead, 0x2000, 4};
  Breakpoint acc{BreakpointKind::kAccess, 0x2000, 4};
  EXPECT_EQ(gdb_stop_reply(StopEvent::of(K::kStepped), true, true), "T05thread:1;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::hit(sw), true, true), "T05thread:1;swbreak:;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::hit(hw), true, true), "T05thread:1;hwbreak:;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::hit(hw), true, false), "T05thread:1;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::hit(wr, 0x2002), true, true), "T05thread:1;watch:2002;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::hit(rd, 0x2000), true, true), "T05thread:1;rwatch:2000;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::hit(acc, 0x2003), true, true), "T05thread:1;awatch:2003;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::of(K::kHistoryStart), true, true),
            "T05thread:1;replaylog:begin;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::of(K::kHistoryEnd), true, true),
            "T05thread:1;replaylog:end;");
  EXPECT_EQ(gdb_stop_reply(StopEvent::exited(0x145), true, true), "W45");
  EXPECT_EQ(gdb_stop_reply(StopEvent::of(K::kInterrupted), true, true), "T02thread:1;");
}

}  // namespace
}  // namespace rrvm
