// What a trace holds, as plain C++ types independent of the file encoding
// (trace/trace.capnp). The vCPU thread builds Events (32-byte PODs) and hands
// them to TraceWriter::append; side data (packet and DMA bytes, console input,
// text, landmark registers) goes through the writer's append_bytes /
// append_text / append_landmark, which copy it into a byte arena.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace rrvm::trace {

// The numbers are the file format (trace.capnp, EventKind); never reorder.
enum class EventKind : uint8_t {
  kPortRead = 0,      // port, size, value           (may be "as modelled")
  kMmioRead = 1,      // address, size, value        (may be "as modelled")
  kMsrRead = 2,       // msr, value
  kDmaWrite = 3,      // guest physical address + bytes
  kInterrupt = 4,     // vector, injected at a landmark or at an exit
  kClockRead = 5,     // source, value (guest ns)
  kPacket = 6,        // bytes of a received frame
  kConsoleInput = 7,  // bytes typed at the console
  kLandmark = 8,      // LandmarkData
  kRegDigest = 9,     // digest
  kMemDigest = 10,    // digest
  kGuestExit = 11,    // code, detail + reason text
  kNote = 12,         // text
};
constexpr int kEventKinds = 13;

// "port-read", "clock-read", ... ("unknown" outside the enum).
const char* kind_name(EventKind k);
// Accepts "port-read", "port_read", "portRead" and "PortRead" (any case).
std::optional<EventKind> kind_from_name(std::string_view name);

constexpr bool kind_has_bytes(EventKind k) {
  return k == EventKind::kDmaWrite || k == EventKind::kPacket || k == EventKind::kConsoleInput;
}
constexpr bool kind_has_text(EventKind k) {
  return k == EventKind::kGuestExit || k == EventKind::kNote;
}
// Reads whose value may be left to the device model.
constexpr bool kind_is_read(EventKind k) {
  return k == EventKind::kPortRead || k == EventKind::kMmioRead;
}

// One event, the exit ordinal at which it happened, and a fixed payload whose
// meaning depends on the kind. Build events with the named constructors and
// read them with the named accessors; `a` and `b` are the storage:
//   a: port, address, msr, guest physical address, vector, clock source,
//      guest-exit code (as int64)
//   b: value, digest, guest-exit detail (free for the engine, e.g. a stop reason)
// A field the kind does not use is not stored and reads back as 0.
struct Event {
  EventKind kind = EventKind::kPortRead;
  uint8_t size = 0;  // access width in bytes of port and MMIO reads
  uint8_t flag = 0;  // 1: read "as modelled" (value not stored) / interrupt at a landmark
  uint64_t ordinal = 0;
  uint64_t a = 0;
  uint64_t b = 0;

  static constexpr Event port_read(uint64_t ord, uint16_t port, uint8_t size, uint64_t value,
                                   bool modelled = false) {
    return {EventKind::kPortRead, size, uint8_t(modelled), ord, port, value};
  }
  static constexpr Event mmio_read(uint64_t ord, uint64_t addr, uint8_t size, uint64_t value,
                                   bool modelled = false) {
    return {EventKind::kMmioRead, size, uint8_t(modelled), ord, addr, value};
  }
  static constexpr Event msr_read(uint64_t ord, uint32_t msr, uint64_t value) {
    return {EventKind::kMsrRead, 0, 0, ord, msr, value};
  }
  static constexpr Event dma_write(uint64_t ord, uint64_t gpa) {
    return {EventKind::kDmaWrite, 0, 0, ord, gpa, 0};
  }
  static constexpr Event interrupt(uint64_t ord, uint8_t vector, bool at_landmark) {
    return {EventKind::kInterrupt, 0, uint8_t(at_landmark), ord, vector, 0};
  }
  static constexpr Event clock_read(uint64_t ord, uint32_t source, uint64_t value) {
    return {EventKind::kClockRead, 0, 0, ord, source, value};
  }
  static constexpr Event packet(uint64_t ord) { return {EventKind::kPacket, 0, 0, ord, 0, 0}; }
  static constexpr Event console_input(uint64_t ord) {
    return {EventKind::kConsoleInput, 0, 0, ord, 0, 0};
  }
  static constexpr Event landmark(uint64_t ord) { return {EventKind::kLandmark, 0, 0, ord, 0, 0}; }
  static constexpr Event reg_digest(uint64_t ord, uint64_t digest) {
    return {EventKind::kRegDigest, 0, 0, ord, 0, digest};
  }
  static constexpr Event mem_digest(uint64_t ord, uint64_t digest) {
    return {EventKind::kMemDigest, 0, 0, ord, 0, digest};
  }
  static constexpr Event guest_exit(uint64_t ord, int64_t code, uint64_t detail = 0) {
    return {EventKind::kGuestExit, 0, 0, ord, static_cast<uint64_t>(code), detail};
  }
  static constexpr Event note(uint64_t ord) { return {EventKind::kNote, 0, 0, ord, 0, 0}; }

  constexpr uint16_t port() const { return static_cast<uint16_t>(a); }
  constexpr uint64_t address() const { return a; }  // MMIO address or DMA gpa
  constexpr uint32_t msr() const { return static_cast<uint32_t>(a); }
  constexpr uint8_t vector() const { return static_cast<uint8_t>(a); }
  constexpr uint32_t source() const { return static_cast<uint32_t>(a); }
  constexpr int64_t code() const { return static_cast<int64_t>(a); }
  constexpr uint64_t value() const { return b; }
  constexpr uint64_t digest() const { return b; }
  constexpr uint64_t detail() const { return b; }
  constexpr bool modelled() const { return flag != 0 && kind_is_read(kind); }
  constexpr bool at_landmark() const { return flag != 0 && kind == EventKind::kInterrupt; }

  friend constexpr bool operator==(const Event&, const Event&) = default;
};
static_assert(std::is_trivially_copyable_v<Event> && sizeof(Event) == 32);

// A landmark (DESIGN.md, Determinism model, 3). Plain data: the writer copies
// it into its byte arena.
struct LandmarkData {
  uint64_t rip = 0;
  std::array<uint64_t, 16> gprs{};  // struct kvm_regs order: rax rbx rcx rdx rsi rdi rsp rbp r8..
  uint64_t rflags = 0;
  uint64_t mem_digest = 0;  // digest of the pages written since the last exit
  uint32_t hits = 0;        // how often the state was reached before injection
  uint8_t cpl = 0;

  friend bool operator==(const LandmarkData&, const LandmarkData&) = default;
};
static_assert(std::is_trivially_copyable_v<LandmarkData>);

struct CpuidLeaf {
  uint32_t function = 0, index = 0, flags = 0, eax = 0, ebx = 0, ecx = 0, edx = 0;
  friend bool operator==(const CpuidLeaf&, const CpuidLeaf&) = default;
};

// A guest image; its bytes are embedded as a blob with the same hash.
struct ImageRef {
  std::string role;  // "kernel", "initrd", ...
  std::string name;  // file name as given
  std::string hash;  // content_hash(): 32 hex digits (xxh3-128); 16 digits = xxh3-64
  uint64_t size = 0;
  friend bool operator==(const ImageRef&, const ImageRef&) = default;
};

struct HeaderInfo {
  // Set by the reader; the writer always writes this rrvm's format.
  uint16_t format_major = 0, format_minor = 0, required_forward_compat = 0;
  std::string rrvm_version;
  int64_t created_unix_seconds = 0;
  std::string host_kernel, host_cpu;
  std::vector<std::string> kvm_capabilities;
  std::vector<std::pair<std::string, std::string>> config;  // ordered, e.g. {"mem", "256M"}
  std::vector<CpuidLeaf> cpuid;
  std::vector<ImageRef> images;
  std::string clock_mode = "host";  // "host" (clock reads logged) or "virtual" (from exit counts)
};

struct FooterInfo {
  // Filled by the writer from what was appended (the caller's values are
  // ignored): total events and counts by kind.
  uint64_t total_events = 0;
  std::vector<uint64_t> counts_by_kind;
  // Filled by the caller.
  uint64_t exits = 0;  // exit ordinals used (last ordinal + 1)
  uint64_t final_reg_digest = 0;
  uint64_t final_mem_digest = 0;
  std::string end_reason;  // "guest exit 0", "interrupted", ...
  int32_t guest_status = 0;
};

// The format this rrvm writes, and what it reads: any minor of its major,
// from writers that require at most kReaderCompat.
constexpr uint16_t kFormatMajor = 1;
constexpr uint16_t kFormatMinor = 0;
constexpr uint16_t kReaderCompat = 1;

// A trace that cannot be read: `offset` is the byte where it went wrong.
class TraceError : public std::runtime_error {
 public:
  TraceError(const std::string& what, uint64_t offset)
      : std::runtime_error(what + " at byte " + std::to_string(offset)), offset_(offset) {}
  uint64_t offset() const { return offset_; }

 private:
  uint64_t offset_;
};

// A missing or unreadable trace file (CLI exit 66), as opposed to a bad one.
class TraceMissing : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Writing failed (disk full, I/O error); what was written before is intact.
class TraceWriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// xxh3-128 of `bytes` as 32 lower-case hex digits: blob and image identity.
std::string content_hash(std::span<const uint8_t> bytes);

}  // namespace rrvm::trace
