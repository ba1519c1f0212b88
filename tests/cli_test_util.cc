#include "tests/cli_test_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace rrvm::test {

namespace {
// The resident set of process `pid` in bytes (0 if it cannot be read).
uint64_t resident_bytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * uint64_t(::sysconf(_SC_PAGESIZE));
}

// Drains both pipes until the child closes them or the deadline passes;
// kills the child when its resident set exceeds `resident` (0: no limit).
void drain(int out_fd, int err_fd, CliResult& r, std::chrono::steady_clock::time_point deadline,
           pid_t pid, uint64_t resident) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0 && std::chrono::steady_clock::now() < deadline) {
    if (resident && !r.over_resident && resident_bytes(pid) > resident) {
      r.over_resident = true;
      ::kill(pid, SIGKILL);
    }
    if (::poll(fds, 2, 200) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
}
}  // namespace

bool under_asan() {
#if defined(__SANITIZE_ADDRESS__)
  return true;
#else
  return false;
#endif
}

CliResult run_rrvm(const std::vector<std::string>& args, int timeout_sec) {
  return run_rrvm(args, CliLimits{timeout_sec, 0});
}

CliResult run_rrvm(const std::vector<std::string>& args, const CliLimits& limits) {
  std::vector<std::string> argv = {RRVM_EXE};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, limits);
}

CliResult run_command(const std::vector<std::string>& argv, int timeout_sec,
                      const std::vector<std::string>& env) {
  return run_command(argv, CliLimits{timeout_sec, 0}, env);
}

CliResult run_command(const std::vector<std::string>& argv_in, const CliLimits& limits,
                      const std::vector<std::string>& env) {
  int timeout_sec = limits.timeout_sec;
  auto start = std::chrono::steady_clock::now();
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    if (limits.address_space && !under_asan()) {
      rlimit as{limits.address_space, limits.address_space};
      ::setrlimit(RLIMIT_AS, &as);
    }
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (const std::string& e : env) {
      size_t eq = e.find('=');
      ::setenv(e.substr(0, eq).c_str(), eq == std::string::npos ? "" : e.c_str() + eq + 1, 1);
    }
    std::vector<std::string> copy = argv_in;
    std::vector<char*> argv;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  CliResult r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_sec);
  drain(out[0], err[0], r, deadline, pid, under_asan() ? 0 : limits.resident);
  ::close(out[0]);
  ::close(err[0]);
  int st = 0;
  rusage ru{};
  // The pipes close a moment before the child becomes reapable: wait for it
  // up to the deadline rather than killing a child that is just exiting.
  pid_t reaped = 0;
  while ((reaped = ::wait4(pid, &st, WNOHANG, &ru)) == 0 &&
         std::chrono::steady_clock::now() < deadline)
    ::usleep(1000);
  if (reaped == 0) {
    ::kill(pid, SIGKILL);
    ::wait4(pid, &st, 0, &ru);
    r.timed_out = true;
    r.err += "\n[test harness: rrvm killed after " + std::to_string(timeout_sec) + " s]";
  }
  if (r.over_resident)
    r.err += "\n[test harness: killed with more than " + std::to_string(limits.resident >> 20) +
             " MiB resident]";
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.max_rss = uint64_t(ru.ru_maxrss) * 1024;
  r.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

namespace {
// Removes the directories temp_dir() made when the test binary exits.
struct TempDirs {
  ~TempDirs() {
    std::error_code ec;
    for (auto& d : dirs) std::filesystem::remove_all(d, ec);
  }
  std::vector<std::string> dirs;
};
}  // namespace

std::string temp_dir() {
  static TempDirs temps;
  char tmpl[] = "/tmp/rrvm-test-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  if (!d) return "/tmp";
  temps.dirs.push_back(d);
  return d;
}

::testing::AssertionResult parses_as_json(const std::string& text, bool lines) {
  std::string path = temp_dir() + "/out.json";
  std::ofstream(path, std::ios::binary) << text;
  std::vector<std::string> argv = {"python3", "-m", "json.tool"};
  if (lines) argv.push_back("--json-lines");
  argv.push_back(path);
  CliResult r = run_command(argv, 30);
  if (r.status == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "not JSON (" << r.err << "): " << text;
}

std::string json_keys(const std::string& text) {
  std::string path = temp_dir() + "/keys.json";
  std::ofstream(path, std::ios::binary) << text;
  CliResult r = run_command(
      {"python3", "-c",
       "import json, sys; print(' '.join(sorted(json.load(open(sys.argv[1])))), end='')", path},
      30);
  return r.status == 0 ? r.out : "(not JSON: " + r.err + ")";
}

}  // namespace rrvm::test
