// The CLI handed inputs that are not what they claim (issue 15, items 2, 4
// and 14): FIFOs, directories and devices where a trace, an image or a
// config file belongs, images larger than the machine, blobs that do not
// check out, a damaged trace among two. Every case ends promptly with a
// clear message and its exit status (66 unusable input, 65 bad data), and
// nothing is written.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/cli_test_util.h"
#include "tests/unit/trace_test_util.h"

namespace rrvm {
namespace {

using test::CliLimits;
using test::CliResult;
using namespace trace::testing;
using trace::content_hash;
using trace::Event;
using trace::HeaderInfo;

// rrvm with `args`, killed after `seconds`.
CliResult rrvm(const std::vector<std::string>& args, int seconds = 60) {
  return test::run_rrvm(args, CliLimits{seconds, 1ull << 30});
}

class HostileInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    fifo_ = dir_ + "/fifo";
    ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
  }

  // A sparse regular file of `bytes`.
  std::string sparse(const std::string& name, uint64_t bytes) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path).close();
    std::filesystem::resize_file(path, bytes);
    return path;
  }
  std::string file(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::string path = dir_ + "/" + name;
    spit(path, bytes);
    return path;
  }

  std::string dir_, fifo_;
};

// A sound complete trace of the test kernel.
std::vector<uint8_t> complete_trace() {
  std::vector<Item> events = {{Event::port_read(1, 0x3fd, 1, 0x60), {}, {}},
                              text_item(Event::guest_exit(2, 1, 0), "guest exit")};
  TraceBuilder t;
  t.header().blob("kernel", std::vector<uint8_t>{1, 2, 3}).chunk(events).index();
  t.footer(footer_for(events)).trailer();
  return t.bytes();
}

// Ends within its time limit with `status` and a message containing `what`.
void expect_refused(const CliResult& r, int status, const std::string& what,
                    const std::string& context) {
  EXPECT_FALSE(r.timed_out) << context << " blocked";
  EXPECT_EQ(r.status, status) << context << "\n" << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << context << "\n" << r.err;
}

TEST_F(HostileInput, TraceCommandsRefuseFifosDirectoriesAndDevices) {
  for (const char* cmd : {"info", "dump", "verify", "replay", "extract"}) {
    for (const std::string& path : {fifo_, dir_, std::string("/dev/zero")}) {
      CliResult r = rrvm({cmd, path}, 10);
      expect_refused(r, 66, "not a regular file", std::string(cmd) + " " + path);
    }
  }
  expect_refused(rrvm({"info", fifo_}, 10), 66, "a FIFO, not a regular file", "info fifo");
  expect_refused(rrvm({"info", dir_}, 10), 66, "a directory, not a regular file", "info dir");
}

TEST_F(HostileInput, ImagesMustBeRegularFilesThatFitInGuestRam) {
  for (const std::string& path : {fifo_, dir_, std::string("/dev/zero")}) {
    expect_refused(rrvm({"run", "--kernel", path}, 10), 66, path + " (kernel)",
                   "run --kernel " + path);
    expect_refused(rrvm({"record", "-o", dir_ + "/t.rrt", "--kernel", path}, 10), 66,
                   path + " (kernel)", "record --kernel " + path);
  }
  // Larger than guest RAM: refused from its size, before a byte is read.
  CliResult big = rrvm({"run", "--mem", "16M", "--kernel", sparse("big", 300 << 20)});
  expect_refused(big, 65, "do not fit in guest RAM (guest RAM is 16 MiB, --mem)", "big kernel");
  // Under ASan the shadow memory alone takes tens of MiB: the bound is
  // against reading 300 MiB, not against the sanitizer's overhead.
  EXPECT_LT(big.max_rss, (test::under_asan() ? 192u : 64u) << 20);
  // Kernel and initrd together.
  CliResult both = rrvm({"run", "--mem", "16M", "--kernel", sparse("k", 10 << 20), "--initrd",
                         sparse("i", 10 << 20)});
  expect_refused(both, 65, dir_ + "/i (initrd) is larger than", "kernel + initrd");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/t.rrt"));
}

TEST_F(HostileInput, ConfigAndSymbolFilesMustBeRegularFiles) {
  expect_refused(rrvm({"run", "--config", fifo_}, 10), 66, fifo_ + " (config file)",
                 "--config fifo");
  std::string a = file("a.rrt", complete_trace());
  expect_refused(rrvm({"bisect", a, a, "--symbols", fifo_}, 10), 66, fifo_ + " (symbol file)",
                 "--symbols fifo");
}

// A blob that is larger than the machine or fails its hash: extract exits
// 65 and leaves no file.
TEST_F(HostileInput, ExtractWritesNothingForABlobThatDoesNotCheckOut) {
  HeaderInfo small = test_header();
  small.config[0] = {"mem", std::to_string(1 << 20)};
  TraceBuilder huge;
  huge.header(small).blob("kernel", std::vector<uint8_t>(8 << 20, 0), 1 << 20);
  std::string out = dir_ + "/out";
  CliResult r = rrvm({"extract", file("huge.rrt", huge.bytes()), "--blob",
                      content_hash(std::vector<uint8_t>(8 << 20, 0)), "-o", out});
  expect_refused(r, 65, "more than the 1048576 bytes of guest RAM", "extract huge");
  EXPECT_FALSE(std::filesystem::exists(out));

  TraceBuilder lying;
  lying.header().blob_part("0123456789abcdef", "kernel", 0, 1, 5, std::vector<uint8_t>(5, 1));
  r = rrvm({"extract", file("lying.rrt", lying.bytes()), "--blob", "0123", "-o", out});
  expect_refused(r, 65, "does not match its hash", "extract lying");
  EXPECT_FALSE(std::filesystem::exists(out));

  TraceBuilder good;
  good.header().blob("kernel", std::vector<uint8_t>{1, 2, 3});
  r = rrvm({"extract", file("good.rrt", good.bytes()), "--blob",
            content_hash(std::vector<uint8_t>{1, 2, 3}), "-o", out});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(slurp(out), (std::vector<uint8_t>{1, 2, 3}));
}

// Item 14: with two traces, the message names the damaged one; a
// configuration error is not placed "at byte 0".
TEST_F(HostileInput, BisectNamesTheDamagedTrace) {
  std::string a = file("a.rrt", complete_trace());
  std::string b = file("b.rrt", std::vector<uint8_t>{'n', 'o', 't', ' ', 'a', ' ', 't', 'r'});
  CliResult r = rrvm({"bisect", a, b}, 10);
  expect_refused(r, 65, b + ": not an rrvm trace", "bisect a damaged");
  r = rrvm({"bisect", b, a}, 10);
  expect_refused(r, 65, b + ": not an rrvm trace", "bisect damaged a");

  HeaderInfo h = test_header();
  h.config.push_back({"bogus", "1"});
  TraceBuilder odd;
  odd.header(h);
  std::string c = file("c.rrt", odd.bytes());
  r = rrvm({"bisect", a, c}, 10);
  expect_refused(r, 65, c + ": machine configuration: unknown machine option 'bogus'",
                 "bisect bad config");
  EXPECT_EQ(r.err.find("at byte"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rrvm
