// Format stability: the golden trace every later rrvm must still read, the
// schema's enum against the C++ one, and the stock tools (zstd, capnp) on a
// written trace.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/unit/trace_test_util.h"
#include "trace/trace.capnp.h"
#include "trace/trace_writer.h"

namespace rrvm::trace {
namespace {

using namespace testing;

const std::string kGolden = std::string(RRVM_SOURCE_DIR) + "/tests/data/golden-v1.rrt";

// tests/data/golden-v1.rrt (format 1.0) holds exactly the header, blob and
// events below. It was written once by this test with RRVM_REGEN_GOLDEN=1;
// this code is frozen with it (it deliberately does not share the evolving
// generators of trace_test_util.h). A later format change must keep reading
// this file; regenerate it only when the format's major version changes.
HeaderInfo golden_header() {
  HeaderInfo h;
  h.rrvm_version = "0.1.0-golden";
  h.created_unix_seconds = 1764000000;
  h.host_kernel = "Linux 6.1.0-golden x86_64";
  h.host_cpu = "Golden CPU";
  h.kvm_capabilities = {"KVM_CAP_IRQCHIP", "KVM_CAP_SET_GUEST_DEBUG"};
  h.config = {{"mem", "64M"}, {"mptable", "kvm84"}, {"rtl8139-timer", "off"}, {"clock", "host"}};
  h.cpuid = {{0x1, 0, 0, 0x663, 0x800, 0x80202001, 0x078bfbfd}};
  h.images = {{"kernel", "seedboot.elf", "", 4}};
  h.clock_mode = "host";
  return h;
}

const std::vector<uint8_t> kGoldenKernel = {0x7f, 'E', 'L', 'F'};

// 13 * 40 events: every kind in turn, values from a small LCG.
std::vector<Item> golden_items() {
  std::vector<Item> out;
  uint64_t x = 1, ord = 100;
  auto next = [&] { return x = x * 6364136223846793005ull + 1442695040888963407ull; };
  for (int i = 0; i < 13 * 40; ++i) {
    ord += next() % 3;
    Item it{{}, {}, {}};
    switch (EventKind(i % 13)) {
      case EventKind::kPortRead:
        it.event = Event::port_read(ord, 0x40, 1, next() & 0xff, i % 2);
        break;
      case EventKind::kMmioRead:
        it.event = Event::mmio_read(ord, 0xfebf0048, 4, next() >> 32, i % 3 == 0);
        break;
      case EventKind::kMsrRead:
        it.event = Event::msr_read(ord, 0x10, next());
        break;
      case EventKind::kDmaWrite:
        it.event = Event::dma_write(ord, 0x200000 + i * 2048);
        it.bytes.assign(60 + i % 7, uint8_t(i));
        break;
      case EventKind::kInterrupt:
        it.event = Event::interrupt(ord, uint8_t(0x20 + i % 16), i % 2);
        break;
      case EventKind::kClockRead:
        it.event = Event::clock_read(ord, uint32_t(i % 3), uint64_t(i) * 1'000'037);
        break;
      case EventKind::kPacket:
        it.event = Event::packet(ord);
        it.bytes.assign(42, uint8_t(next()));
        break;
      case EventKind::kConsoleInput:
        it.event = Event::console_input(ord);
        it.bytes = {'l', 's', '\n'};
        break;
      case EventKind::kLandmark:
        it.event = Event::landmark(ord);
        it.landmark.rip = 0x100000 + next() % 4096;
        for (auto& g : it.landmark.gprs) g = next();
        it.landmark.rflags = 0x202;
        it.landmark.mem_digest = next();
        it.landmark.hits = uint32_t(1 + i % 4);
        it.landmark.cpl = uint8_t(i % 4 == 0 ? 3 : 0);
        break;
      case EventKind::kRegDigest:
        it.event = Event::reg_digest(ord, next());
        break;
      case EventKind::kMemDigest:
        it.event = Event::mem_digest(ord, next());
        break;
      case EventKind::kGuestExit:
        it.event = Event::guest_exit(ord, -i, uint64_t(i));
        it.bytes = {'e', 'x', 'i', 't'};
        break;
      case EventKind::kNote:
        it.event = Event::note(ord);
        it.bytes = {'n', 'o', 't', 'e'};
        break;
      case EventKind::kTimeSkip:  // format 1.1: not in the 1.0 golden file (i % 13 < 13)
      case EventKind::kProgress:
      case EventKind::kCompletion:  // newer than the golden trace: never generated here
      case EventKind::kNmi:
        break;
    }
    out.push_back(it);
  }
  return out;
}

void write_golden() {
  HeaderInfo h = golden_header();
  h.images[0].hash = content_hash(kGoldenKernel);
  WriterOptions o;
  o.chunk_events = 100;
  o.level = 19;
  TraceWriter w(kGolden, h, o);
  w.add_blob("kernel", kGoldenKernel);
  for (const Item& it : golden_items()) append_item(w, it);
  FooterInfo f;
  f.exits = 2000;
  f.final_reg_digest = 0x0123456789abcdef;
  f.final_mem_digest = 0xfedcba9876543210;
  f.end_reason = "guest exit 0";
  w.close(f);
}

TEST(TraceFormat, GoldenTraceStillReads) {
  if (std::getenv("RRVM_REGEN_GOLDEN")) write_golden();
  TraceReader r(kGolden);
  EXPECT_TRUE(r.complete()) << r.truncation();
  HeaderInfo want = golden_header();
  want.images[0].hash = content_hash(kGoldenKernel);
  const HeaderInfo& h = r.header();
  EXPECT_EQ(h.format_major, 1);
  EXPECT_EQ(h.format_minor, 0);
  EXPECT_EQ(h.required_forward_compat, 1);
  EXPECT_EQ(h.rrvm_version, want.rrvm_version);
  EXPECT_EQ(h.created_unix_seconds, want.created_unix_seconds);
  EXPECT_EQ(h.host_kernel, want.host_kernel);
  EXPECT_EQ(h.host_cpu, want.host_cpu);
  EXPECT_EQ(h.kvm_capabilities, want.kvm_capabilities);
  EXPECT_EQ(h.config, want.config);
  EXPECT_EQ(h.cpuid, want.cpuid);
  EXPECT_EQ(h.images, want.images);
  EXPECT_EQ(h.clock_mode, want.clock_mode);
  EXPECT_TRUE(h.host_probe.empty()) << "format 1.0 traces before the probe field have none";
  EXPECT_TRUE(h.host_forced_cpuid.empty());
  std::vector<Item> events;
  for (const Item& it : golden_items()) events.push_back(expected(it));
  EXPECT_EQ(read_items(r), events);
  EXPECT_EQ(r.blob(want.images[0].hash), kGoldenKernel);
  ASSERT_TRUE(r.footer());
  EXPECT_EQ(r.footer()->end_reason, "guest exit 0");
  EXPECT_EQ(r.footer()->exits, 2000u);
  EXPECT_EQ(r.footer()->final_reg_digest, 0x0123456789abcdefu);
  EXPECT_EQ(r.footer()->final_mem_digest, 0xfedcba9876543210u);
  EXPECT_EQ(r.footer()->total_events, events.size());
  // Seeking goes through the index.
  r.seek(events[300].event.ordinal);
  ReadEvent e;
  ASSERT_TRUE(r.next(e));
  EXPECT_EQ(e.event.ordinal, events[300].event.ordinal);
}

TEST(TraceFormat, EventKindNumbersMatchTheSchema) {
  EXPECT_EQ(int(schema::EventKind::PORT_READ), int(EventKind::kPortRead));
  EXPECT_EQ(int(schema::EventKind::MMIO_READ), int(EventKind::kMmioRead));
  EXPECT_EQ(int(schema::EventKind::MSR_READ), int(EventKind::kMsrRead));
  EXPECT_EQ(int(schema::EventKind::DMA_WRITE), int(EventKind::kDmaWrite));
  EXPECT_EQ(int(schema::EventKind::INTERRUPT), int(EventKind::kInterrupt));
  EXPECT_EQ(int(schema::EventKind::CLOCK_READ), int(EventKind::kClockRead));
  EXPECT_EQ(int(schema::EventKind::PACKET), int(EventKind::kPacket));
  EXPECT_EQ(int(schema::EventKind::CONSOLE_INPUT), int(EventKind::kConsoleInput));
  EXPECT_EQ(int(schema::EventKind::LANDMARK), int(EventKind::kLandmark));
  EXPECT_EQ(int(schema::EventKind::REG_DIGEST), int(EventKind::kRegDigest));
  EXPECT_EQ(int(schema::EventKind::MEM_DIGEST), int(EventKind::kMemDigest));
  EXPECT_EQ(int(schema::EventKind::GUEST_EXIT), int(EventKind::kGuestExit));
  EXPECT_EQ(int(schema::EventKind::NOTE), int(EventKind::kNote));
  EXPECT_EQ(int(schema::EventKind::TIME_SKIP), int(EventKind::kTimeSkip));
  EXPECT_EQ(int(schema::EventKind::PROGRESS), int(EventKind::kProgress));
  EXPECT_EQ(int(schema::EventKind::COMPLETION), int(EventKind::kCompletion));
  EXPECT_EQ(int(schema::EventKind::NMI), int(EventKind::kNmi));
  EXPECT_EQ(kEventKinds, 17);
}

TEST(TraceFormat, KindNamesParseInEverySpelling) {
  for (int k = 0; k < kEventKinds; ++k)
    EXPECT_EQ(kind_from_name(kind_name(EventKind(k))), EventKind(k));
  EXPECT_EQ(kind_from_name("PortRead"), EventKind::kPortRead);
  EXPECT_EQ(kind_from_name("clock_read"), EventKind::kClockRead);
  EXPECT_EQ(kind_from_name("memDigest"), EventKind::kMemDigest);
  EXPECT_FALSE(kind_from_name("port"));
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return status == 0 ? out : "exit status " + std::to_string(status) + "\n" + out;
}

// zstd -t checks every frame's checksum; zstd -dc | capnp decode prints
// every record (the trailing skippable frame is skipped by zstd).
TEST(TraceFormat, StockToolsReadATrace) {
  if (std::system("command -v zstd >/dev/null 2>&1 && command -v capnp >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "the zstd or capnp command-line tool is not installed";
  std::string path = temp_path("tools.rrt");
  write_trace(path, random_items(11, 3000), small_chunks(500));
  EXPECT_EQ(run("zstd -q -t " + path + " 2>&1"), "");
  std::string text = run("zstd -q -dc " + path + " | capnp decode --short " + RRVM_SOURCE_DIR +
                         "/trace/trace.capnp TraceRecord 2>&1");
  // One record per line, in file order.
  EXPECT_EQ(text.rfind("(header = (formatMajor = 1, formatMinor = 1", 0), 0u)
      << text.substr(0, 400);
  EXPECT_NE(text.find("(key = \"mptable\", value = \"fixed\")"), std::string::npos);
  EXPECT_NE(text.find("blob = (hash = \""), std::string::npos);
  EXPECT_NE(text.find("chunk = (firstOrdinal = "), std::string::npos);
  EXPECT_NE(text.find("index = (chunks = "), std::string::npos);
  EXPECT_NE(text.find("footer = (totalEvents = 3001"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace rrvm::trace
