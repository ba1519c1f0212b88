// What the CLI prints from a trace (issue 15 item 13): no control character
// from a trace reaches the terminal, and every --json output parses, however
// hostile the strings in the trace.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/tools_test_util.h"
#include "trace/content_hash.h"
#include "trace/frame_io.h"
#include "trace/records.h"

namespace rrvm::test {
namespace {

// Window title, bell, clear screen, cursor home, CSI as a C1 control, a
// carriage return and a byte that is not UTF-8.
const std::string kEvil = "\x1b]0;pwn\x07\x1b[2J\x1b[H\xc2\x9b\r\xff";

// Bytes a terminal would act on: C0 controls except newline, DEL, and the C1
// controls (as UTF-8, U+0080..U+009F).
::testing::AssertionResult terminal_safe(const std::string& text) {
  for (size_t i = 0; i < text.size(); ++i) {
    auto b = static_cast<unsigned char>(text[i]);
    bool c1 = b == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xa0;
    if ((b < 0x20 && b != '\n') || b == 0x7f || c1 || b == 0xff)
      return ::testing::AssertionFailure() << "byte " << int(b) << " at " << i << " in: " << text;
  }
  return ::testing::AssertionSuccess();
}

std::string evil_trace() {
  static const std::string path = [] {
    trace::HeaderInfo h = small_header({{"mem", "64M"}, {"cmdline", "console=" + kEvil}});
    h.host_kernel = "Linux" + kEvil;
    h.host_cpu = kEvil;
    h.rrvm_version = kEvil;
    h.kvm_capabilities = {kEvil};
    h.clock_mode = kEvil;
    h.images = {{"kernel", "k" + kEvil + ".elf", "", 4}};
    trace::FooterInfo f;
    f.end_reason = "guest exit" + kEvil;
    return write_small_trace(temp_dir() + "/evil.rrt", h, f);
  }();
  return path;
}

TEST(CliOutput, InfoEscapesEveryStringFromTheTrace) {
  CliResult text = run_rrvm({"info", evil_trace()});
  EXPECT_EQ(text.status, 0) << text.err;
  EXPECT_TRUE(terminal_safe(text.out));
  EXPECT_TRUE(terminal_safe(text.err));
  EXPECT_NE(text.out.find("host: Linux\\u001b]0;pwn\\u0007"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("cmdline=console=\\u001b"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("end: guest exit\\u001b"), std::string::npos) << text.out;
  CliResult json = run_rrvm({"info", "--json", evil_trace()});
  EXPECT_EQ(json.status, 0) << json.err;
  EXPECT_TRUE(terminal_safe(json.out));
  EXPECT_TRUE(parses_as_json(json.out));
}

TEST(CliOutput, DumpAndVerifyStayPrintableAndParse) {
  for (const char* cmd : {"dump", "verify"}) {
    CliResult text = run_rrvm({cmd, evil_trace()});
    EXPECT_EQ(text.status, 0) << cmd << text.err;
    EXPECT_TRUE(terminal_safe(text.out)) << cmd;
    CliResult json = run_rrvm({cmd, "--json", evil_trace()});
    EXPECT_EQ(json.status, 0) << cmd << json.err;
    EXPECT_TRUE(parses_as_json(json.out, /*lines=*/std::string(cmd) == "dump")) << cmd;
  }
}

// "machine configuration not understood" printed the trace's key raw.
TEST(CliOutput, ConfigurationErrorsEscapeTheTracesText) {
  std::string t = write_small_trace(temp_dir() + "/badkey.rrt",
                                    small_header({{"mem", "64M"}, {"x" + kEvil, "1"}}));
  for (auto args : {std::vector<std::string>{"replay", t}, {"bisect", t, t}}) {
    CliResult r = run_rrvm(args);
    EXPECT_EQ(r.status, 65) << r.err;
    EXPECT_TRUE(terminal_safe(r.err));
    EXPECT_NE(r.err.find("unknown machine option 'x\\u001b]0;pwn\\u0007"), std::string::npos)
        << r.err;
  }
}

// A trace holding just a header and one blob record whose hash is `hash`
// (no footer: a cut-off recording, which the reader accepts).
std::string blob_trace(const std::string& hash) {
  trace::CCtx cctx(ZSTD_createCCtx());
  std::vector<uint8_t> file;
  auto add = [&](capnp::MallocMessageBuilder& msg) {
    std::vector<uint8_t> f = trace::record_frame(msg, cctx.get(), 3);
    file.insert(file.end(), f.begin(), f.end());
  };
  capnp::MallocMessageBuilder header;
  trace::build_header(small_header(), header.initRoot<trace::schema::TraceRecord>().initHeader());
  add(header);
  capnp::MallocMessageBuilder blob;
  auto b = blob.initRoot<trace::schema::TraceRecord>().initBlob();
  const uint8_t data[4] = {1, 2, 3, 4};
  b.setHash(hash);
  b.setRole("kernel");
  b.setPart(0);
  b.setParts(1);
  b.setSize(sizeof data);
  b.setData(kj::arrayPtr(data, sizeof data));
  add(blob);
  std::string path = temp_dir() + "/blob.rrt";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(file.data()), std::streamsize(file.size()));
  return path;
}

TEST(CliOutput, ExtractJsonCannotBeGivenExtraMembers) {
  // A hash that is not hex is damage (item 8): it never reaches the output.
  std::string out = temp_dir() + "/k \"quoted\".bin";
  CliResult bad =
      run_rrvm({"extract", blob_trace("x\", \"pwn\": \"1"), "--blob", "x", "-o", out, "--json"});
  EXPECT_EQ(bad.status, 65) << bad.err;
  EXPECT_EQ(bad.out, "");
  // What does reach it, the output path, cannot add members either.
  const uint8_t data[4] = {1, 2, 3, 4};
  std::string hash = trace::content_hash(data);
  CliResult r = run_rrvm({"extract", blob_trace(hash), "--blob", hash, "-o", out, "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(parses_as_json(r.out)) << r.out;
  EXPECT_EQ(json_keys(r.out), "bytes hash output role") << r.out;
  EXPECT_NE(r.out.find("k \\\"quoted\\\".bin"), std::string::npos) << r.out;
}

TEST(CliOutput, ExtractAndTablesJsonParse) {
  std::string t = write_small_trace(temp_dir() + "/plain.rrt", small_header());
  CliResult info = run_rrvm({"info", "--json", t});
  ASSERT_EQ(info.status, 0) << info.err;
  size_t at = info.out.find("\"hash\": \"");
  ASSERT_NE(at, std::string::npos) << info.out;
  std::string hash = info.out.substr(at + 9, 32);
  CliResult x = run_rrvm({"extract", t, "--blob", hash, "-o", temp_dir() + "/k.bin", "--json"});
  EXPECT_EQ(x.status, 0) << x.err;
  EXPECT_TRUE(parses_as_json(x.out));
  EXPECT_EQ(json_keys(x.out), "bytes hash output role");
  CliResult tables = run_rrvm({"tables", "--json", "--net", "user"});
  EXPECT_EQ(tables.status, 0) << tables.err;
  EXPECT_TRUE(parses_as_json(tables.out));
  EXPECT_NE(tables.out.find("{\"name\": \"RSDP\", \"addr\": \"0x"), std::string::npos)
      << tables.out;
}

}  // namespace
}  // namespace rrvm::test
