// --clock virtual on a disturbed host (issue 14): a guest that takes its
// time from port I/O and HLT and never spins records the same events and
// prints the same output however loaded the host is and however long the
// recorder is stopped in the middle.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "tests/kvm/kvm_test_util.h"
#include "trace/event_stream.h"
#include "trace/trace_inspect.h"
#include "trace/trace_reader.h"

namespace rrvm {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kStop = 200ms;

// A busy loop on every core while it lives.
class CpuHogs {
 public:
  CpuHogs() {
    unsigned n = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < n; ++i) {
      threads_.emplace_back([this] {
        volatile uint64_t spins = 0;
        while (!stop_.load(std::memory_order_relaxed)) spins = spins + 1;
      });
    }
  }
  ~CpuHogs() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The state letter of /proc/PID/stat ('T' stopped, 'Z' exited), or 0.
char process_state(pid_t pid) {
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : 0;
}

struct Recording {
  int status = -1;
  bool stopped_mid_run = false;           // SIGSTOP found it running, not done
  Clock::duration after_start_line = {};  // wall time from the guest's first line to the end
};

// Records pitpoll under --clock virtual into `dir`/NAME.rrt (serial output
// in NAME.out), stopping the recorder for kStop `delay` after the guest's
// first line.
Recording record_stopped(const std::string& dir, const std::string& name, Clock::duration delay) {
  std::string trace = dir + "/" + name + ".rrt", serial = "file:" + dir + "/" + name + ".out";
  std::string kernel = test::guest_path("pitpoll");
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(RRVM_EXE, RRVM_EXE, "record", "--clock", "virtual", "-o", trace.c_str(), "--serial",
            serial.c_str(), "--kernel", kernel.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  Recording r;
  auto deadline = Clock::now() + 60s;
  while (slurp(dir + "/" + name + ".out").find("polling") == std::string::npos &&
         process_state(pid) != 'Z' && Clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  auto start = Clock::now();
  std::this_thread::sleep_for(delay);
  ::kill(pid, SIGSTOP);
  for (int i = 0; i < 200 && !r.stopped_mid_run; ++i) {
    char s = process_state(pid);
    r.stopped_mid_run = s == 'T' || s == 't';
    if (s == 'Z' || s == 0) break;
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(kStop);
  ::kill(pid, SIGCONT);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.after_start_line = Clock::now() - start;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::vector<trace::StoredEvent> events_of(const std::string& path) {
  trace::TraceReader reader(path);
  trace::ReaderSource source(reader);
  std::vector<trace::StoredEvent> out;
  for (; source.peek(); source.pop()) out.emplace_back(*source.peek());
  return out;
}

TEST(VirtualClock, RecordingsAreIdenticalOnALoadedHostWithTheRecorderStopped) {
  RRVM_REQUIRE_KVM();
  std::string dir = test::temp_dir();
  Recording a, b;
  {
    CpuHogs hogs;
    a = record_stopped(dir, "a", 20ms);
    ASSERT_EQ(a.status, 1) << "pitpoll passes";
    // B is stopped elsewhere: halfway through A's run, at most 300 ms in.
    auto run = a.after_start_line - kStop;
    b = record_stopped(dir, "b", std::min<Clock::duration>(run / 2, 300ms));
    ASSERT_EQ(b.status, 1);
  }
  ASSERT_TRUE(a.stopped_mid_run && b.stopped_mid_run)
      << "the guest ended before the recorder was stopped: the test proves nothing";
  std::vector<trace::StoredEvent> ea = events_of(dir + "/a.rrt"), eb = events_of(dir + "/b.rrt");
  // Reads and guest time are left to the models: what is stored is the 100
  // halts, a register and a memory digest every 4096 exits, the exit (and
  // progress marks, once a second: host timing, so not compared).
  auto drop_progress = [](std::vector<trace::StoredEvent>& v) {
    std::erase_if(v, [](auto& e) { return e.event.kind == trace::EventKind::kProgress; });
  };
  drop_progress(ea);
  drop_progress(eb);
  ASSERT_GT(ea.size(), 120u);
  size_t first = 0;
  while (first < ea.size() && first < eb.size() && ea[first] == eb[first]) ++first;
  auto at = [&](const std::vector<trace::StoredEvent>& v) {
    return first < v.size() ? trace::format_event(v[first].view()) : "the end";
  };
  EXPECT_EQ(first, std::max(ea.size(), eb.size()))
      << "the recordings part at event " << first << " of " << ea.size() << " / " << eb.size()
      << ": " << at(ea) << " vs " << at(eb);
  trace::TraceReader ra(dir + "/a.rrt"), rb(dir + "/b.rrt");
  ASSERT_TRUE(ra.footer() && rb.footer());
  EXPECT_EQ(ra.footer()->final_mem_digest, rb.footer()->final_mem_digest);
  EXPECT_EQ(ra.footer()->final_reg_digest, rb.footer()->final_reg_digest);
  std::string out_a = slurp(dir + "/a.out");
  EXPECT_NE(out_a.find("pitpoll: 100 ticks"), std::string::npos) << out_a;
  EXPECT_EQ(out_a, slurp(dir + "/b.out"));
}

}  // namespace
}  // namespace rrvm
