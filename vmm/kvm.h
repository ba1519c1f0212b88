// Thin RAII wrapper over the KVM API: the system fd, a VM and its vCPU.
// Everything here is host-specific; nothing here knows about devices.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace rrvm {

// A KVM call failed. `message` names the call and the errno text.
class KvmError : public std::runtime_error {
 public:
  KvmError(const std::string& what, int err);
  int error() const { return err_; }

 private:
  int err_;
};

// /dev/kvm is missing, not permitted, or lacks a capability rrvm needs. The
// message says how to fix it.
class KvmUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// One CPUID leaf as KVM_SET_CPUID2 takes it.
using CpuidEntry = kvm_cpuid_entry2;

class Kvm {
 public:
  // Opens /dev/kvm (or `path`) and checks the API version and every
  // capability rrvm relies on; throws KvmUnavailable naming what is missing.
  explicit Kvm(const std::string& path = "/dev/kvm");
  int fd() const { return fd_.get(); }
  int check_extension(long cap) const;
  int vcpu_mmap_size() const;
  std::vector<CpuidEntry> supported_cpuid() const;
  // Capabilities checked at start-up, for the trace header's host facts.
  static const std::vector<std::pair<long, const char*>>& required_caps();

 private:
  Fd fd_;
};

class KvmVm {
 public:
  explicit KvmVm(const Kvm& kvm);
  int fd() const { return fd_.get(); }
  void set_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host, bool log_dirty);
  // Fills `bitmap` (one bit per 4 KiB page of the slot) and clears KVM's copy.
  void get_dirty_log(uint32_t slot, std::span<uint64_t> bitmap);

 private:
  Fd fd_;
};

class KvmVcpu {
 public:
  KvmVcpu(const Kvm& kvm, const KvmVm& vm, int id);
  ~KvmVcpu();
  KvmVcpu(const KvmVcpu&) = delete;
  KvmVcpu& operator=(const KvmVcpu&) = delete;

  int fd() const { return fd_.get(); }
  kvm_run* run_area() const { return run_; }

  // KVM_RUN. Returns false when it was interrupted by a signal (EINTR, or
  // immediate_exit was set): the caller handles the kick. Throws on error.
  bool run();

  kvm_regs get_regs() const;
  void set_regs(const kvm_regs& r);
  kvm_sregs get_sregs() const;
  void set_sregs(const kvm_sregs& s);
  kvm_vcpu_events get_events() const;
  void set_cpuid(std::span<const CpuidEntry> entries);
  uint64_t get_msr(uint32_t index) const;
  void set_msr(uint32_t index, uint64_t value);
  void interrupt(uint8_t vector);
  // Guest-virtual to guest-physical through the current page tables;
  // nullopt-like: returns false if unmapped.
  bool translate(uint64_t gva, uint64_t* gpa) const;
  void set_guest_debug(const kvm_guest_debug& dbg);

 private:
  Fd fd_;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
};

}  // namespace rrvm
