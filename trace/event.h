// What a trace holds, as plain C++ types independent of the file encoding
// (trace.capnp). The vCPU thread builds these; nothing here allocates except
// the side tables of the rare kinds (landmarks, payloads, texts).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rrvm::trace {

// Values match trace.capnp's EventKind; the file stores them as bytes.
enum class EventKind : uint8_t {
  kPortRead = 0,
  kMmioRead = 1,
  kMsrRead = 2,
  kDmaWrite = 3,
  kInterrupt = 4,
  kClockRead = 5,
  kPacket = 6,
  kConsoleInput = 7,
  kLandmark = 8,
  kRegDigest = 9,
  kMemDigest = 10,
  kGuestExit = 11,
  kNote = 12,
};
constexpr int kEventKinds = 13;
const char* kind_name(EventKind k);
// "port-read" etc. -> kind; nullopt for an unknown name.
std::optional<EventKind> kind_from_name(const std::string& name);

// One event. Meaning of a and b by kind (see trace.capnp):
//   port/mmio/msr read: a = port/address/msr, b = value, size = width
//   dma write: a = guest physical address (bytes in the payload)
//   interrupt: a = vector, flag = injected at the preceding landmark
//   clock read: a = source, b = guest ns
//   reg/mem digest: b = digest; guest exit: a = status, b = reason code
struct Event {
  EventKind kind = EventKind::kPortRead;
  uint8_t size = 0;
  uint8_t flag = 0;
  uint64_t ordinal = 0;
  uint64_t a = 0;
  uint64_t b = 0;
};

struct LandmarkData {
  uint64_t rip = 0;
  std::array<uint64_t, 16> gprs{};
  uint64_t rflags = 0;
  uint64_t mem_digest = 0;
  uint8_t cpl = 0;
};

struct CpuidLeaf {
  uint32_t function, index, flags, eax, ebx, ecx, edx;
};

struct ImageRef {
  std::string role, name, hash;
  uint64_t size = 0;
};

struct HeaderInfo {
  uint16_t format_major = 0, format_minor = 0, required_forward_compat = 0;
  std::string rrvm_version;
  int64_t created_unix_seconds = 0;
  std::string host_kernel, host_cpu;
  std::vector<std::string> kvm_capabilities;
  std::vector<std::pair<std::string, std::string>> config;
  std::vector<CpuidLeaf> cpuid;
  std::vector<ImageRef> images;
  std::string clock_mode = "host";
};

struct FooterInfo {
  uint64_t total_events = 0;
  uint64_t exits = 0;
  uint64_t final_reg_digest = 0;
  uint64_t final_mem_digest = 0;
  std::string end_reason;
  int32_t guest_status = 0;
};

// The format this rrvm writes and the newest it reads.
constexpr uint16_t kFormatMajor = 1;
constexpr uint16_t kFormatMinor = 0;
constexpr uint16_t kForwardCompat = 1;

// A trace that cannot be read: `offset` is the byte where it went wrong.
class TraceError : public std::runtime_error {
 public:
  TraceError(const std::string& what, uint64_t offset)
      : std::runtime_error(what + " at byte " + std::to_string(offset)), offset_(offset) {}
  uint64_t offset() const { return offset_; }

 private:
  uint64_t offset_;
};

// Writing failed (disk full, I/O error): what was written before is intact.
class TraceWriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// xxh3-128 of `bytes` as 32 hex digits (blob and image identity).
std::string content_hash(const std::vector<uint8_t>& bytes);

}  // namespace rrvm::trace
