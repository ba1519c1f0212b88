#include "vmm/kvm.h"
#include "vmm/fxsave_image.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vmm/kvm_ioctls.h"

namespace rrvm {

KvmError::KvmError(const std::string& what, int err)
    : std::runtime_error(what + ": " + std::strerror(err)), err_(err) {}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

// ioctl that retries on EINTR except where the caller wants to see it.
int xioctl(int fd, unsigned long req, const void* arg, const char* what) {
  int r;
  do {
    r = ::ioctl(fd, req, arg);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw KvmError(what, errno);
  return r;
}

int xioctl(int fd, unsigned long req, unsigned long arg, const char* what) {
  return xioctl(fd, req, reinterpret_cast<const void*>(arg), what);
}

// A struct kvm_cpuid2 out of KVM. C layout: u32 nent, u32 padding, then the
// entries (see kvm_ioctls.h); KVM_MAX_CPUID_ENTRIES is 256.
std::vector<CpuidEntry> get_cpuid2(int fd, unsigned long req, const char* what) {
  constexpr uint32_t kMaxEntries = 256;
  std::vector<uint8_t> buf(kvm::kCpuid2HeaderSize + kMaxEntries * sizeof(CpuidEntry));
  uint32_t nent = kMaxEntries;
  std::memcpy(buf.data(), &nent, sizeof nent);
  xioctl(fd, req, buf.data(), what);
  std::memcpy(&nent, buf.data(), sizeof nent);
  std::vector<CpuidEntry> out(std::min(nent, kMaxEntries));
  std::memcpy(out.data(), buf.data() + kvm::kCpuid2HeaderSize, out.size() * sizeof(CpuidEntry));
  return out;
}

void enable_cap_on(int fd, uint32_t cap, uint64_t arg0) {
  kvm_enable_cap c{};
  c.cap = cap;
  c.args[0] = arg0;
  xioctl(fd, kvm::kEnableCap, &c, "KVM_ENABLE_CAP");
}

std::string open_advice(const std::string& path, int err) {
  std::string msg = "cannot open " + path + ": " + std::strerror(err);
  if (err == ENOENT) {
    msg +=
        " (KVM is not available: load the kvm_intel or kvm_amd module, or enable "
        "virtualization in the firmware/hypervisor)";
  } else if (err == EACCES || err == EPERM) {
    msg += " (add your user to the 'kvm' group, or run as root)";
  }
  return msg;
}

}  // namespace

const std::vector<std::pair<long, const char*>>& Kvm::required_caps() {
  static const std::vector<std::pair<long, const char*>> caps = {
      {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
      {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
      {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
      {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
      {KVM_CAP_SET_GUEST_DEBUG, "KVM_CAP_SET_GUEST_DEBUG"},
      {KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS"},
  };
  return caps;
}

Kvm::Kvm(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw KvmUnavailable(open_advice(path, errno));
  fd_ = Fd(fd);
  int version = ::ioctl(fd, kvm::kGetApiVersion, 0);
  if (version != KVM_API_VERSION) {
    throw KvmUnavailable(path + ": KVM API version " + std::to_string(version) + ", expected " +
                         std::to_string(KVM_API_VERSION));
  }
  for (const auto& [cap, name] : required_caps()) {
    if (check_extension(cap) <= 0) {
      throw KvmUnavailable(path + ": this KVM lacks " + std::string(name) +
                           ", which rrvm needs (kernel too old?)");
    }
  }
}

int Kvm::check_extension(long cap) const {
  return ::ioctl(fd_.get(), kvm::kCheckExtension, cap);
}

int Kvm::vcpu_mmap_size() const {
  return xioctl(fd_.get(), kvm::kGetVcpuMmapSize, 0ul, "KVM_GET_VCPU_MMAP_SIZE");
}

std::vector<CpuidEntry> Kvm::supported_cpuid() const {
  return get_cpuid2(fd_.get(), kvm::kGetSupportedCpuid, "KVM_GET_SUPPORTED_CPUID");
}

KvmVm::KvmVm(const Kvm& kvm) {
  int fd;
  do {
    fd = ::ioctl(kvm.fd(), kvm::kCreateVm, 0);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw KvmError("KVM_CREATE_VM", errno);
  fd_ = Fd(fd);
  // Required on Intel before the first KVM_RUN: three pages KVM uses for the
  // real-mode TSS, placed just below the BIOS area where the guest has no RAM.
  xioctl(fd, kvm::kSetTssAddr, 0xfffbd000ul, "KVM_SET_TSS_ADDR");
}

void KvmVm::set_memory_region(uint32_t slot, uint64_t gpa, uint64_t size, void* host,
                              bool log_dirty) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = reinterpret_cast<uint64_t>(host);
  xioctl(fd_.get(), kvm::kSetUserMemoryRegion, &r, "KVM_SET_USER_MEMORY_REGION");
}

void KvmVm::enable_cap(uint32_t cap, uint64_t arg0) {
  enable_cap_on(fd_.get(), cap, arg0);
}

void KvmVm::deny_msrs(std::span<const std::pair<uint32_t, uint32_t>> ranges) {
  if (ranges.size() > KVM_MSR_FILTER_MAX_RANGES) throw std::invalid_argument("too many MSR ranges");
  // A zero bit denies (the filter's bitmaps allow with 1); the largest range
  // KVM takes is KVM_MSR_FILTER_MAX_BITMAP_SIZE bytes of bits.
  static const std::vector<uint8_t> kDenyAll(KVM_MSR_FILTER_MAX_BITMAP_SIZE, 0);
  kvm_msr_filter f{};
  f.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
  for (size_t i = 0; i < ranges.size(); ++i) {
    f.ranges[i].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
    f.ranges[i].base = ranges[i].first;
    f.ranges[i].nmsrs = ranges[i].second;
    f.ranges[i].bitmap = const_cast<uint8_t*>(kDenyAll.data());
  }
  xioctl(fd_.get(), kvm::kSetMsrFilter, &f, "KVM_X86_SET_MSR_FILTER");
}

void KvmVm::get_dirty_log(uint32_t slot, std::span<uint64_t> bitmap) {
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bitmap.data();
  xioctl(fd_.get(), kvm::kGetDirtyLog, &log, "KVM_GET_DIRTY_LOG");
}

KvmVcpu::KvmVcpu(const Kvm& kvm, const KvmVm& vm, int id) {
  int fd = ::ioctl(vm.fd(), kvm::kCreateVcpu, id);
  if (fd < 0) throw KvmError("KVM_CREATE_VCPU", errno);
  fd_ = Fd(fd);
  run_size_ = static_cast<size_t>(kvm.vcpu_mmap_size());
  void* p = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw KvmError("mmap of the vCPU run area", errno);
  run_ = static_cast<kvm_run*>(p);
  xsave_ = kvm.check_extension(KVM_CAP_XSAVE) > 0;
  sync_caps_ = static_cast<uint64_t>(std::max(kvm.check_extension(KVM_CAP_SYNC_REGS), 0));
}

KvmVcpu::~KvmVcpu() {
  if (run_) ::munmap(run_, run_size_);
}

bool KvmVcpu::run() {
  // Only a KVM_RUN that returned 0 surely went through KVM's copy-out
  // (store_regs at its end); a failed one may have left before it.
  synced_ = false;
  if (::ioctl(fd_.get(), kvm::kRun, 0) == 0) {
    synced_ = run_->kvm_valid_regs != 0;
    return true;
  }
  if (errno == EINTR || errno == EAGAIN) return false;
  throw KvmError("KVM_RUN", errno);
}

void KvmVcpu::sync_registers(bool on) {
  constexpr uint64_t kWant = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
  run_->kvm_valid_regs = on && (sync_caps_ & kWant) == kWant ? kWant : 0;
  synced_ = false;  // filled by the next KVM_RUN
}

kvm_regs KvmVcpu::get_regs() const {
  if (synced_) return run_->s.regs.regs;
  kvm_regs r{};
  xioctl(fd_.get(), kvm::kGetRegs, &r, "KVM_GET_REGS");
  return r;
}

void KvmVcpu::set_regs(const kvm_regs& r) {
  synced_ = false;
  xioctl(fd_.get(), kvm::kSetRegs, &r, "KVM_SET_REGS");
}

kvm_sregs KvmVcpu::get_sregs() const {
  if (synced_) return run_->s.regs.sregs;
  kvm_sregs s{};
  xioctl(fd_.get(), kvm::kGetSregs, &s, "KVM_GET_SREGS");
  return s;
}

void KvmVcpu::set_sregs(const kvm_sregs& s) {
  synced_ = false;
  xioctl(fd_.get(), kvm::kSetSregs, &s, "KVM_SET_SREGS");
}

kvm_vcpu_events KvmVcpu::get_events() const {
  if (synced_) return run_->s.regs.events;
  kvm_vcpu_events e{};
  xioctl(fd_.get(), kvm::kGetVcpuEvents, &e, "KVM_GET_VCPU_EVENTS");
  return e;
}

void KvmVcpu::set_cpuid(std::span<const CpuidEntry> entries) {
  synced_ = false;
  std::vector<uint8_t> buf(kvm::kCpuid2HeaderSize + entries.size_bytes());
  uint32_t nent = static_cast<uint32_t>(entries.size());
  std::memcpy(buf.data(), &nent, sizeof nent);
  std::memcpy(buf.data() + kvm::kCpuid2HeaderSize, entries.data(), entries.size_bytes());
  xioctl(fd_.get(), kvm::kSetCpuid2, buf.data(), "KVM_SET_CPUID2");
}

std::vector<CpuidEntry> KvmVcpu::get_cpuid() const {
  return get_cpuid2(fd_.get(), kvm::kGetCpuid2, "KVM_GET_CPUID2");
}

namespace {
kvm_fpu read_fpu(int fd) {
  kvm_fpu f{};
  xioctl(fd, kvm::kGetFpu, &f, "KVM_GET_FPU");
  return f;
}

// The XSAVE region (SDM vol. 1, 13.4.1): its first 512 bytes are the
// FXSAVE image (FSW at byte 2, MXCSR at 24, XMM0-15 from 160), and
// XSTATE_BV at byte 512 says which components hold live state: a clear
// bit means the component is in its initial state (zeros), whatever the
// image's bytes are (13.6).
constexpr size_t kFswAt = 2, kMxcsrAt = 24, kXmmAt = 160, kXstateBvAt = 512;
constexpr uint8_t kXstateX87 = 1, kXstateSse = 2;
}  // namespace

KvmVcpu::FxState KvmVcpu::get_fx() const {
  FxState fx;
  if (!xsave_) {
    kvm_fpu f = read_fpu(fd_.get());
    fx.fsw = f.fsw;
    fx.mxcsr = f.mxcsr;
    std::memcpy(fx.xmm.data(), f.xmm, sizeof f.xmm);
    return fx;
  }
  std::vector<uint8_t> region = get_fpu_state();
  uint8_t live = region[kXstateBvAt];
  if (live & kXstateX87) std::memcpy(&fx.fsw, region.data() + kFswAt, sizeof fx.fsw);
  std::memcpy(&fx.mxcsr, region.data() + kMxcsrAt, sizeof fx.mxcsr);
  if (live & kXstateSse) std::memcpy(fx.xmm.data(), region.data() + kXmmAt, sizeof fx.xmm);
  return fx;
}

void KvmVcpu::set_fx(const FxState& fx) {
  synced_ = false;
  if (!xsave_) {
    kvm_fpu f = read_fpu(fd_.get());
    f.mxcsr = fx.mxcsr;
    std::memcpy(f.xmm, fx.xmm.data(), sizeof f.xmm);
    xioctl(fd_.get(), kvm::kSetFpu, &f, "KVM_SET_FPU");
    return;
  }
  std::vector<uint8_t> region = get_fpu_state();
  std::memcpy(region.data() + kMxcsrAt, &fx.mxcsr, sizeof fx.mxcsr);
  std::memcpy(region.data() + kXmmAt, fx.xmm.data(), sizeof fx.xmm);
  region[kXstateBvAt] |= kXstateSse;
  set_fpu_state(region);
}

// Through the XSAVE region where there is one (its x87 component in the
// init state when XSTATE_BV.x87 is clear: FNINIT's values), else KVM_GET_FPU.
KvmVcpu::X87State KvmVcpu::get_x87() const {
  X87State x;
  if (!xsave_) {
    kvm_fpu f = read_fpu(fd_.get());
    x.fcw = f.fcw, x.fsw = f.fsw, x.ftw = f.ftwx, x.fop = f.last_opcode;
    x.fip = f.last_ip, x.fdp = f.last_dp;
    for (int i = 0; i < 8; ++i) std::memcpy(x.st[i].data(), f.fpr[i], 10);
    return x;
  }
  std::vector<uint8_t> region = get_fpu_state();
  if (region[kXstateBvAt] & kXstateX87) x = x87_from_fxsave(region);
  return x;
}

void KvmVcpu::set_x87(const X87State& x) {
  synced_ = false;
  if (!xsave_) {
    kvm_fpu f = read_fpu(fd_.get());
    f.fcw = x.fcw, f.fsw = x.fsw, f.ftwx = x.ftw, f.last_opcode = x.fop;
    f.last_ip = x.fip, f.last_dp = x.fdp;
    for (int i = 0; i < 8; ++i) std::memcpy(f.fpr[i], x.st[i].data(), 10);
    xioctl(fd_.get(), kvm::kSetFpu, &f, "KVM_SET_FPU");
    return;
  }
  std::vector<uint8_t> region = get_fpu_state();
  x87_to_fxsave(x, region);
  region[kXstateBvAt] |= kXstateX87;
  set_fpu_state(region);
}

uint64_t KvmVcpu::get_msr(uint32_t index) const {
  kvm_msr_entry e{};
  e.index = index;
  if (get_msrs({&e, 1}) != 1) throw KvmError("KVM_GET_MSRS " + std::to_string(index), EINVAL);
  return e.data;
}

void KvmVcpu::set_msr(uint32_t index, uint64_t value) {
  synced_ = false;
  kvm_msr_entry e{};
  e.index = index;
  e.data = value;
  if (set_msrs({&e, 1}) != 1) throw KvmError("KVM_SET_MSRS " + std::to_string(index), EINVAL);
}

void KvmVcpu::interrupt(uint8_t vector) {
  synced_ = false;
  kvm_interrupt irq{};
  irq.irq = vector;
  xioctl(fd_.get(), kvm::kInterrupt, &irq, "KVM_INTERRUPT");
}

bool KvmVcpu::translate(uint64_t gva, uint64_t* gpa) const {
  kvm_translation t{};
  t.linear_address = gva;
  if (::ioctl(fd_.get(), kvm::kTranslate, &t) != 0 || !t.valid) return false;
  *gpa = t.physical_address;
  return true;
}

void KvmVcpu::set_guest_debug(const kvm_guest_debug& dbg) {
  synced_ = false;
  xioctl(fd_.get(), kvm::kSetGuestDebug, &dbg, "KVM_SET_GUEST_DEBUG");
}

// ---- Machine checkpoints ----------------------------------------------------

void KvmVcpu::set_events(const kvm_vcpu_events& e) {
  synced_ = false;
  xioctl(fd_.get(), kvm::kSetVcpuEvents, &e, "KVM_SET_VCPU_EVENTS");
}

kvm_debugregs KvmVcpu::get_debugregs() const {
  kvm_debugregs d{};
  xioctl(fd_.get(), kvm::kGetDebugRegs, &d, "KVM_GET_DEBUGREGS");
  return d;
}

void KvmVcpu::set_debugregs(const kvm_debugregs& d) {
  synced_ = false;
  xioctl(fd_.get(), kvm::kSetDebugRegs, &d, "KVM_SET_DEBUGREGS");
}

kvm_xcrs KvmVcpu::get_xcrs() const {
  kvm_xcrs x{};
  if (xsave_) xioctl(fd_.get(), kvm::kGetXcrs, &x, "KVM_GET_XCRS");
  return x;
}

void KvmVcpu::set_xcrs(const kvm_xcrs& x) {
  synced_ = false;
  if (xsave_) xioctl(fd_.get(), kvm::kSetXcrs, &x, "KVM_SET_XCRS");
}

std::vector<uint8_t> KvmVcpu::get_fpu_state() const {
  if (xsave_) {
    std::vector<uint8_t> region(kvm::kXsaveSize);
    xioctl(fd_.get(), kvm::kGetXsave, region.data(), "KVM_GET_XSAVE");
    return region;
  }
  kvm_fpu f = read_fpu(fd_.get());
  const auto* p = reinterpret_cast<const uint8_t*>(&f);
  return {p, p + sizeof f};
}

void KvmVcpu::set_fpu_state(std::span<const uint8_t> state) {
  synced_ = false;
  size_t want = xsave_ ? kvm::kXsaveSize : sizeof(kvm_fpu);
  if (state.size() != want) {
    throw KvmError("FPU state of " + std::to_string(state.size()) + " bytes for this KVM", EINVAL);
  }
  if (xsave_) {
    xioctl(fd_.get(), kvm::kSetXsave, state.data(), "KVM_SET_XSAVE");
  } else {
    xioctl(fd_.get(), kvm::kSetFpu, state.data(), "KVM_SET_FPU");
  }
}

namespace {
// C layout of kvm_msrs: u32 nmsrs, u32 pad, then the entries.
std::vector<uint8_t> msrs_buffer(std::span<const kvm_msr_entry> entries) {
  std::vector<uint8_t> buf(kvm::kMsrsHeaderSize + entries.size_bytes());
  uint32_t n = static_cast<uint32_t>(entries.size());
  std::memcpy(buf.data(), &n, sizeof n);
  if (!entries.empty()) {
    std::memcpy(buf.data() + kvm::kMsrsHeaderSize, entries.data(), entries.size_bytes());
  }
  return buf;
}
}  // namespace

size_t KvmVcpu::get_msrs(std::span<kvm_msr_entry> entries) const {
  std::vector<uint8_t> buf = msrs_buffer(entries);
  int n = xioctl(fd_.get(), kvm::kGetMsrs, buf.data(), "KVM_GET_MSRS");
  if (!entries.empty()) {
    std::memcpy(entries.data(), buf.data() + kvm::kMsrsHeaderSize, entries.size_bytes());
  }
  return static_cast<size_t>(n);
}

size_t KvmVcpu::set_msrs(std::span<const kvm_msr_entry> entries) {
  synced_ = false;
  std::vector<uint8_t> buf = msrs_buffer(entries);
  return static_cast<size_t>(xioctl(fd_.get(), kvm::kSetMsrs, buf.data(), "KVM_SET_MSRS"));
}

bool KvmVcpu::finish_pending_exit() {
  const uint8_t if_flag = run_->if_flag, ready = run_->ready_for_interrupt_injection;
  const uint64_t cr8 = run_->cr8;
  run_->immediate_exit = 1;
  synced_ = false;
  int r = ::ioctl(fd_.get(), kvm::kRun, 0);
  int err = errno;
  run_->immediate_exit = 0;
  synced_ = r == 0 && run_->kvm_valid_regs != 0;
  if (r == 0 && run_->exit_reason != KVM_EXIT_INTR) return false;  // a new exit
  if (r != 0 && err != EINTR && err != EAGAIN) throw KvmError("KVM_RUN (completing an exit)", err);
  run_->if_flag = if_flag;
  run_->ready_for_interrupt_injection = ready;
  run_->cr8 = cr8;
  return true;
}

void KvmVcpu::enable_cap(uint32_t cap, uint64_t arg0) {
  synced_ = false;
  enable_cap_on(fd_.get(), cap, arg0);
}

void KvmVcpu::nmi() {
  synced_ = false;
  xioctl(fd_.get(), kvm::kNmi, 0ul, "KVM_NMI");
}

}  // namespace rrvm
