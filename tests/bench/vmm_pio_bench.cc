// Port-I/O exit cost: rrvm's run loop and Bus dispatch vs a bare KVM_RUN loop
// that does no dispatch at all, on the same guest, interleaved in one run.
// Prints ns per exit for both and the ratio (issue target: <= 1.10).
//
//   build/tests/bench/vmm_pio_bench [exits-per-run] [repetitions]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "vmm/cpu_model.h"
#include "vmm/guest_ram.h"
#include "vmm/kvm.h"
#include "vmm/vcpu_loop.h"
#include "vmm/x86_boot.h"

namespace rrvm {
namespace {

// 32-bit guest: `out 0x80, al` ECX times, then `out 0xf4, al`.
std::vector<uint8_t> guest_code(uint32_t n) {
  return {0xB9, uint8_t(n), uint8_t(n >> 8), uint8_t(n >> 16), uint8_t(n >> 24),  // mov ecx, n
          0xE6, 0x80,                                                             // out 0x80, al
          0x49,                                                                   // dec ecx
          0x75, 0xFB,                                                             // jnz -5
          0xE6, 0xF4};                                                            // out 0xf4, al
}

class Sink final : public IoDevice {
 public:
  explicit Sink(Board* b) : board_(b) {}
  std::string_view name() const override { return "sink"; }
  void read(uint64_t, std::span<uint8_t> d) override { store_le(d, 0); }
  void write(uint64_t off, std::span<const uint8_t> d) override {
    last = load_le(d);
    if (board_ && off == 0x74) board_->stop = RunResult{StopReason::kGuestExit, 0, "", 0};
  }
  uint64_t last = 0;

 private:
  Board* board_;
};

struct Vm {
  explicit Vm(uint32_t n) : vm(kvm), ram(4 << 20), vcpu(kvm, vm, 0) {
    ram.attach(vm, false);
    vcpu.set_cpuid(rrvm64_cpuid(0));
    auto code = guest_code(n);
    ram.write(0x100000, code);
    enter_multiboot(vcpu, 0x100000, 0);
  }
  Kvm kvm;
  KvmVm vm;
  GuestRam ram;
  KvmVcpu vcpu;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The floor: KVM_RUN until the exit port, touching nothing else.
double raw_run(uint32_t n) {
  Vm v(n);
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    if (!v.vcpu.run()) continue;
    kvm_run* r = v.vcpu.run_area();
    if (r->exit_reason != KVM_EXIT_IO) std::abort();
    if (r->io.port == 0xf4) break;
  }
  return seconds_since(t0);
}

double rrvm_run(uint32_t n) {
  Vm v(n);
  Board board;
  Sink sink(&board);
  board.pio.add(0x80, 0x80, sink);
  HostClock clock;
  VcpuLoop loop(v.vcpu, v.ram, board, clock, {});
  auto t0 = std::chrono::steady_clock::now();
  RunResult r = loop.run();
  double s = seconds_since(t0);
  if (r.reason != StopReason::kGuestExit) std::abort();
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace
}  // namespace rrvm

int main(int argc, char** argv) {
  uint32_t n = argc > 1 ? uint32_t(std::atoi(argv[1])) : 20000;
  int reps = argc > 2 ? std::atoi(argv[2]) : 7;
  std::vector<double> raw, rr;
  try {
    for (int i = 0; i < reps; ++i) {  // interleaved so machine noise hits both
      raw.push_back(rrvm::raw_run(n));
      rr.push_back(rrvm::rrvm_run(n));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmm_pio_bench: %s\n", e.what());
    return 1;
  }
  double raw_ns = rrvm::median(raw) / n * 1e9, rr_ns = rrvm::median(rr) / n * 1e9;
  std::printf("port-I/O exits per run: %u, repetitions: %d (medians)\n", n, reps);
  std::printf("  raw KVM_RUN loop : %8.0f ns/exit\n", raw_ns);
  std::printf("  rrvm VcpuLoop+Bus: %8.0f ns/exit\n", rr_ns);
  std::printf("  ratio rrvm/raw   : %8.3f (target <= 1.10)\n", rr_ns / raw_ns);
  return 0;
}
