// The kvm-unit-tests suite (upstream 1da1819, built from the tarball in
// tests/kvm-unit-tests/) under rrvm, checked against the expectations kept in
// tests/kvm-unit-tests/expectations.txt (its header explains the grammar):
//  - Run: every case that fits a one-CPU machine, with the env initrd, as
//    upstream's x86/run starts QEMU (pc-testdev, isa-debug-exit, 256M);
//  - RecordReplay: every passing (or skipping) case is recorded and replayed;
//    replay must give the same serial output byte for byte and the same guest
//    status, or, for cases marked replay=rdtsc, diverge with a report that
//    names rdtsc (replay=rdtsc-unnamed: diverge, and the report does not);
//  - RunWithoutEnv: cases marked noenv, without the initrd (fw_cfg's CPU count).
// A result that differs from the file fails, whichever way it changed.
// Cases marked slow run only with RRVM_KUT_SLOW=1 in the environment (when
// the test binary lists and runs its tests).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "tests/kvm/kvm_test_util.h"

namespace rrvm::test {
namespace {

const std::string kKutDir = std::string(RRVM_SOURCE_DIR) + "/tests/kvm-unit-tests";
const std::string kImageDir = std::string(RRVM_BINARY_DIR) + "/tests/kvm-unit-tests/x86";
const std::string kExpectations = kKutDir + "/expectations.txt";

enum class Outcome { kPass, kSkip, kFail };

// What replaying a recording of the case does (replay=...).
enum class Replay {
  kExact,         // same serial output and guest status
  kRdtsc,         // diverges; the report names rdtsc
  kRdtscUnnamed,  // diverges because of RDTSC, but the report does not say so
};

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::kPass:
      return "pass";
    case Outcome::kSkip:
      return "skip";
    case Outcome::kFail:
      return "fail";
  }
  return "?";
}

struct KutCase {
  int line = 0;
  std::string name, image, result, reason, args, fails;
  double seconds = 0;       // measured `rrvm run` time
  bool unfinished = false;  // time=S+: still running after S seconds
  bool slow = false, noenv = false;
  Replay replay = Replay::kExact;

  Outcome expected() const {
    if (result == "pass") return Outcome::kPass;
    if (result == "skip") return Outcome::kSkip;
    return Outcome::kFail;
  }
  // 3x the measured time, within [20, 180] s; a case that did not finish
  // gets the cap (enough to see that it still does not).
  int timeout_sec() const {
    if (unfinished) return 180;
    return std::clamp(int(seconds * 3 + 0.999), 20, 180);
  }
  std::string test_name() const {
    std::string n = name;
    for (char& ch : n)
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    return n;
  }
};

struct Expectations {
  std::vector<KutCase> cases;
  std::vector<std::string> errors;  // "line N: what"
};

// Splits on blanks, keeping key="a b" together (quotes removed).
std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> words;
  std::string w;
  bool quoted = false, any = false;
  for (char ch : text) {
    if (ch == '"') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && std::isspace(static_cast<unsigned char>(ch))) {
      if (any) words.push_back(w);
      w.clear();
      any = false;
    } else {
      w += ch;
      any = true;
    }
  }
  if (any) words.push_back(w);
  return words;
}

// Applies one key=value or flag word to `c`; false if unknown or malformed.
bool apply_word(KutCase& c, const std::string& word) {
  auto eq = word.find('=');
  if (eq == std::string::npos) {
    bool* flag = word == "slow" ? &c.slow : word == "noenv" ? &c.noenv : nullptr;
    if (flag) *flag = true;
    return flag != nullptr;
  }
  std::string key = word.substr(0, eq), value = word.substr(eq + 1);
  if (key == "args" || key == "fails") {
    (key == "args" ? c.args : c.fails) = value;
    return true;
  }
  if (key == "replay") {
    c.replay = value == "rdtsc" ? Replay::kRdtsc : Replay::kRdtscUnnamed;
    return value == "rdtsc" || value == "rdtsc-unnamed";
  }
  if (key != "time") return false;
  char* end = nullptr;
  c.seconds = std::strtod(value.c_str(), &end);
  if (*end == '+') {  // did not finish: a hang or too slow here; never in CI
    c.unfinished = c.slow = true;
    ++end;
  }
  return !value.empty() && *end == '\0' && c.seconds > 0;
}

std::string check_case(const KutCase& c) {
  static const std::vector<std::string> kResults = {"pass", "skip", "host", "gap", "unfit"};
  if (std::find(kResults.begin(), kResults.end(), c.result) == kResults.end())
    return "result '" + c.result + "' is none of pass, skip, host, gap, unfit";
  bool failing = c.result == "host" || c.result == "gap" || c.result == "unfit";
  if (failing && c.reason.empty()) return c.result + " needs a reason after ' -- '";
  if (c.result != "unfit" && c.seconds == 0) return "needs time=SECONDS (or time=SECONDS+)";
  if (c.unfinished && c.expected() == Outcome::kPass) return "a pass cannot be unfinished";
  if (c.replay != Replay::kExact && c.expected() == Outcome::kFail)
    return "replay= is for passing or skipping cases";
  return "";
}

Expectations load_expectations() {
  Expectations e;
  std::ifstream in(kExpectations);
  if (!in) e.errors.push_back("cannot read " + kExpectations);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    KutCase c;
    c.line = n;
    auto sep = line.find(" -- ");
    if (sep != std::string::npos) c.reason = line.substr(sep + 4);
    std::vector<std::string> w = words_of(line.substr(0, sep));
    std::string err = w.size() < 3 ? "needs CASE IMAGE RESULT" : "";
    for (size_t i = 3; err.empty() && i < w.size(); ++i)
      if (!apply_word(c, w[i])) err = "unknown or bad word '" + w[i] + "'";
    if (err.empty()) {
      c.name = w[0], c.image = w[1], c.result = w[2];
      err = check_case(c);
    }
    if (!err.empty())
      e.errors.push_back("line " + std::to_string(n) + ": " + err);
    else
      e.cases.push_back(c);
  }
  return e;
}

const Expectations& expectations() {
  static const Expectations e = load_expectations();
  return e;
}

bool slow_wanted() {
  const char* v = std::getenv("RRVM_KUT_SLOW");
  return v && *v && std::string(v) != "0";
}

template <typename Pred>
std::vector<KutCase> cases_where(Pred keep) {
  std::vector<KutCase> out;
  for (const KutCase& c : expectations().cases)
    if (c.result != "unfit" && (!c.slow || slow_wanted()) && keep(c)) out.push_back(c);
  return out;
}

// rrvm's arguments for `verb` (run or record), as upstream's x86/run starts
// QEMU; the Multiboot command line starts with the image, as QEMU's does.
std::vector<std::string> rrvm_args(const KutCase& c, const std::string& verb, bool env) {
  std::string cmdline = c.image + ".flat" + (c.args.empty() ? "" : " " + c.args);
  std::vector<std::string> a = {verb,
                                "--kernel",
                                kImageDir + "/" + c.image + ".flat",
                                "--mem",
                                "256M",
                                "--pc-testdev",
                                "on",
                                "--cmdline",
                                cmdline,
                                "--timeout",
                                std::to_string(c.timeout_sec())};
  if (env) a.insert(a.end(), {"--initrd", kKutDir + "/env"});
  return a;
}

// As upstream's run_tests.sh: status 1 (guest 0) passes unless the SUMMARY
// line counts unexpected failures; 77 (guest 38) is the test's own skip.
Outcome classify(const CliResult& r) {
  auto at = r.out.rfind("SUMMARY:");
  std::string summary = at == std::string::npos ? "" : r.out.substr(at, r.out.find('\n', at) - at);
  if (r.status == 1 && summary.find("unexpected failures") == std::string::npos)
    return Outcome::kPass;
  if (r.status == 77) return Outcome::kSkip;
  return Outcome::kFail;
}

// The last `n` lines of `text`.
std::string tail_lines(const std::string& text, int n) {
  size_t at = text.size();
  if (at > 0 && text[at - 1] == '\n') --at;
  for (int i = 0; i < n; ++i) {
    at = at == 0 ? std::string::npos : text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
  }
  return text.substr(at + 1);
}

// What the run did, for a failure message.
std::string describe(const CliResult& r, double secs) {
  std::ostringstream o;
  o << "status " << r.status << " after " << secs << " s\n--- last serial lines:\n"
    << tail_lines(r.out, 12) << "--- rrvm stderr (end):\n"
    << tail_lines(r.err, 8);
  return o.str();
}

std::string where(const KutCase& c) {
  return "tests/kvm-unit-tests/expectations.txt line " + std::to_string(c.line) + " (" + c.name +
         ": " + c.result + (c.reason.empty() ? "" : ", " + c.reason) + ")";
}

struct Timed {
  CliResult r;
  double secs;
};

Timed run_timed(const std::vector<std::string>& args, int timeout_sec) {
  auto start = std::chrono::steady_clock::now();
  CliResult r = run_rrvm(args, timeout_sec + 30);
  std::chrono::duration<double> d = std::chrono::steady_clock::now() - start;
  return {r, std::round(d.count() * 10) / 10};
}

// The outcome must be the expected one; a failing case must also fail the
// way the file says (fails="..."), so that its reason stays true.
void expect_outcome(const KutCase& c, const Timed& t) {
  Outcome got = classify(t.r);
  if (got != c.expected()) {
    ADD_FAILURE() << c.name << " now gives " << to_string(got) << ", expected "
                  << to_string(c.expected()) << " by " << where(c) << ": "
                  << (got == Outcome::kPass ? "an improvement, write it in the file"
                                            : "a regression")
                  << "\n"
                  << describe(t.r, t.secs);
    return;
  }
  if (!c.fails.empty()) {
    EXPECT_TRUE(t.r.out.find(c.fails) != std::string::npos ||
                t.r.err.find(c.fails) != std::string::npos)
        << c.name << " still fails, but no longer prints \"" << c.fails << "\" (" << where(c)
        << "): update its reason\n"
        << describe(t.r, t.secs);
  }
}

// gtest (and ctest's test list) print a case by its name, not its bytes.
void PrintTo(const KutCase& c, std::ostream* os) {
  *os << c.name;
}

class KvmUnitTests : public ::testing::TestWithParam<KutCase> {};

TEST_P(KvmUnitTests, Run) {
  RRVM_REQUIRE_KVM();
  const KutCase& c = GetParam();
  expect_outcome(c, run_timed(rrvm_args(c, "run", true), c.timeout_sec()));
}

INSTANTIATE_TEST_SUITE_P(Expected, KvmUnitTests,
                         ::testing::ValuesIn(cases_where([](auto&) { return true; })),
                         [](const auto& info) { return info.param.test_name(); });

// The guest status `rrvm replay` reports ("... run ended by X, status N").
int replayed_status(const std::string& err) {
  std::smatch m;
  static const std::regex kStatus("replay matched the recording: .*, status ([0-9]+)");
  return std::regex_search(err, m, kStatus) ? std::stoi(m[1]) : -1;
}

class KvmUnitTestsReplay : public ::testing::TestWithParam<KutCase> {};

TEST_P(KvmUnitTestsReplay, RecordReplay) {
  RRVM_REQUIRE_KVM();
  const KutCase& c = GetParam();
  std::string trace = temp_dir() + "/" + c.test_name() + ".rrt";
  std::vector<std::string> rec_args = rrvm_args(c, "record", true);
  rec_args.insert(rec_args.begin() + 1, {"-o", trace});
  Timed rec = run_timed(rec_args, c.timeout_sec());
  ASSERT_EQ(classify(rec.r), c.expected())
      << "recording " << c.name << " did not end as `run` does\n"
      << describe(rec.r, rec.secs);
  Timed rep = run_timed({"replay", trace}, c.timeout_sec());
  std::filesystem::remove(trace);
  if (c.replay == Replay::kExact) {
    ASSERT_EQ(rep.r.status, 0) << "replay of " << c.name << " diverged:\n" << rep.r.err;
    EXPECT_EQ(replayed_status(rep.r.err), rec.r.status) << rep.r.err;
    EXPECT_TRUE(rep.r.out == rec.r.out) << "serial output differs\n--- recorded:\n"
                                        << rec.r.out << "--- replayed:\n"
                                        << rep.r.out;
    return;
  }
  ASSERT_NE(rep.r.status, 0) << c.name << " now replays exactly: drop replay= from " << where(c)
                             << "\n"
                             << rep.r.err;
  EXPECT_EQ(rep.r.status, 1) << rep.r.err;
  bool named = rep.r.err.find("rdtsc") != std::string::npos;
  if (c.replay == Replay::kRdtsc)
    EXPECT_TRUE(named) << "the divergence report does not name rdtsc:\n" << rep.r.err;
  else
    EXPECT_FALSE(named) << "the divergence report names rdtsc now: write replay=rdtsc in "
                        << where(c) << "\n"
                        << rep.r.err;
}

INSTANTIATE_TEST_SUITE_P(Passing, KvmUnitTestsReplay,
                         ::testing::ValuesIn(cases_where([](const KutCase& c) {
                           return c.expected() != Outcome::kFail;
                         })),
                         [](const auto& info) { return info.param.test_name(); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KvmUnitTestsReplay);

class KvmUnitTestsNoEnv : public ::testing::TestWithParam<KutCase> {};

// Without the env initrd, the CPU count comes from fw_cfg (issue 12).
TEST_P(KvmUnitTestsNoEnv, RunWithoutEnv) {
  RRVM_REQUIRE_KVM();
  const KutCase& c = GetParam();
  expect_outcome(c, run_timed(rrvm_args(c, "run", false), c.timeout_sec()));
}

INSTANTIATE_TEST_SUITE_P(Expected, KvmUnitTestsNoEnv,
                         ::testing::ValuesIn(cases_where([](const KutCase& c) { return c.noenv; })),
                         [](const auto& info) { return info.param.test_name(); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(KvmUnitTestsNoEnv);

// The file itself: every line parses, every built image has a line, every
// line's image is built, no case name twice.
TEST(KvmUnitTestsExpectations, CoverEveryImage) {
  const Expectations& e = expectations();
  for (const std::string& err : e.errors) ADD_FAILURE() << kExpectations << ": " << err;
  ASSERT_TRUE(std::filesystem::is_directory(kImageDir))
      << kImageDir << " is missing: build the kvm_unit_tests target (RRVM_BUILD_GUESTS=ON)";
  std::map<std::string, int> listed, names;
  for (const KutCase& c : e.cases) {
    ++listed[c.image];
    EXPECT_EQ(++names[c.test_name()], 1) << "case " << c.name << " listed twice";
    EXPECT_TRUE(std::filesystem::exists(kImageDir + "/" + c.image + ".flat"))
        << where(c) << ": no image " << c.image << ".flat";
  }
  int images = 0;
  for (const auto& f : std::filesystem::directory_iterator(kImageDir)) {
    if (f.path().extension() != ".flat") continue;
    ++images;
    EXPECT_GT(listed[f.path().stem().string()], 0)
        << f.path().filename() << " has no line in " << kExpectations;
  }
  EXPECT_EQ(images, 49) << "upstream 1da1819 builds 49 x86_64 images";
}

}  // namespace
}  // namespace rrvm::test
