// Runs the rrvm CLI as a child process with bounded memory and time, for
// tests that check what a user sees: exit status, stderr, peak RSS.
// The child gets RLIMIT_AS (unless the test runs under AddressSanitizer,
// whose shadow memory needs terabytes of address space) and is killed at
// its time limit; stdout and stderr go to files read afterwards.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace rrvm::testing {

struct ProcessLimits {
  uint64_t address_space = 0;  // bytes; 0: no limit
  double seconds = 10;         // then SIGKILL
};

struct ProcessResult {
  int status = -1;  // exit status, or -1 when killed by a signal
  int signal = 0;   // the signal that ended it (SIGKILL at the time limit)
  bool timed_out = false;
  double seconds = 0;
  uint64_t max_rss = 0;  // bytes
  std::string out, err;
};

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kUnderAsan = true;
#else
constexpr bool kUnderAsan = false;
#endif
#else
constexpr bool kUnderAsan = false;
#endif

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `program` with `args`; stdin is /dev/null.
inline ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                                 const ProcessLimits& limits = {}) {
  namespace fs = std::filesystem;
  std::string base =
      (fs::temp_directory_path() / ("rrvm-proc-" + std::to_string(::getpid()))).string();
  std::string out_path = base + ".out", err_path = base + ".err";
  auto start = std::chrono::steady_clock::now();
  std::fflush(stdout);  // or the child's freopen writes our buffered output again
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (limits.address_space && !kUnderAsan) {
      rlimit rl{limits.address_space, limits.address_space};
      ::setrlimit(RLIMIT_AS, &rl);
    }
    rlimit core{0, 0};
    ::setrlimit(RLIMIT_CORE, &core);
    if (!std::freopen("/dev/null", "r", stdin) || !std::freopen(out_path.c_str(), "w", stdout) ||
        !std::freopen(err_path.c_str(), "w", stderr))
      ::_exit(127);
    std::vector<char*> argv = {const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  ProcessResult r;
  int wstatus = 0;
  rusage ru{};
  for (;;) {
    pid_t got = ::wait4(pid, &wstatus, WNOHANG, &ru);
    if (got == pid) break;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!r.timed_out && r.seconds > limits.seconds) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.max_rss = uint64_t(ru.ru_maxrss) * 1024;
  if (WIFEXITED(wstatus)) r.status = WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) r.signal = WTERMSIG(wstatus);
  r.out = read_all(out_path);
  r.err = read_all(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

inline ProcessResult rrvm(const std::vector<std::string>& args, const ProcessLimits& limits = {}) {
  return run_process(RRVM_EXE, args, limits);
}

}  // namespace rrvm::testing
