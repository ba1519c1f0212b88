// What a trace holds, as plain C++ types independent of the file encoding
// (trace/trace.capnp). The vCPU thread builds Events (32-byte PODs) and hands
// them to TraceWriter::append; side data (packet and DMA bytes, console input,
// text, landmark registers) goes through the writer's append_bytes /
// append_text / append_landmark, which copy it into a byte arena.
#pragma once

#include <array>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "trace/content_hash.h"

namespace rrvm::trace {

// The numbers are the file format (trace.capnp, EventKind); never reorder.
// A new kind gets the next number here and in trace.capnp, a row in
// kKindLayouts below, and a named constructor in Event: the codec, the
// writer, the reader and `rrvm dump` follow from the row.
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
  kTimeSkip = 13,     // cause, ns: virtual time moved on by a halt or a spin (format 1.1)
  kProgress = 14,     // the recording ran through this exit (format 1.1)
  kCompletion = 15,   // instruction | exception vector << 8, RIP (Event::completion)
  kNmi = 16,          // an NMI injected at a landmark or at an exit
};

// How a kind's fields are stored in a chunk (trace.capnp, Chunk, has the same
// table for people) and shown by `rrvm dump`.
enum class Coding : uint8_t {
  kNone,    // not stored; reads back as 0
  kVarint,  // args column, LEB128
  kZigzag,  // args column, signed
  kDelta,   // values column, signed difference from the previous value with
            // the same kind and `a` in the chunk (b only)
  kRaw64,   // values column, 8 bytes little-endian (b only)
};
enum class Shown : uint8_t { kHex, kDec, kInt, kText };  // kText: quoted, escaped
enum class FlagUse : uint8_t {
  kNone,        // the flag bit is reserved
  kModelled,    // set: a read "as modelled", b is not stored
  kAtLandmark,  // set: injected at the landmark just before, else at the exit
};
enum class SideData : uint8_t {
  kNone,
  kBytes,     // bytes in the payloads column
  kText,      // UTF-8 in the payloads column
  kLandmark,  // LandmarkData in the landmarks list
};

struct FieldLayout {
  Coding coding = Coding::kNone;
  const char* name = nullptr;  // in `rrvm dump`
  Shown shown = Shown::kHex;
};

struct KindLayout {
  EventKind kind;
  const char* name;    // "port-read"
  FieldLayout a = {};  // stored first, in the args column
  bool sized = false;  // a byte access width ("size") follows a in args
  FieldLayout b = {};
  FlagUse flag = FlagUse::kNone;
  SideData side = SideData::kNone;
  const char* side_name = nullptr;
  Shown side_shown = Shown::kHex;  // kHex: the first bytes in hex; kText: all, quoted
};

inline constexpr KindLayout kKindLayouts[] = {
    {.kind = EventKind::kPortRead,
     .name = "port-read",
     .a = {Coding::kVarint, "port"},
     .sized = true,
     .b = {Coding::kDelta, "value"},
     .flag = FlagUse::kModelled},
    {.kind = EventKind::kMmioRead,
     .name = "mmio-read",
     .a = {Coding::kVarint, "addr"},
     .sized = true,
     .b = {Coding::kDelta, "value"},
     .flag = FlagUse::kModelled},
    {.kind = EventKind::kMsrRead,
     .name = "msr-read",
     .a = {Coding::kVarint, "msr"},
     .b = {Coding::kDelta, "value"}},
    {.kind = EventKind::kDmaWrite,
     .name = "dma-write",
     .a = {Coding::kVarint, "gpa"},
     .side = SideData::kBytes,
     .side_name = "data"},
    {.kind = EventKind::kInterrupt,
     .name = "interrupt",
     .a = {Coding::kVarint, "vector"},
     .flag = FlagUse::kAtLandmark},
    {.kind = EventKind::kClockRead,
     .name = "clock-read",
     .a = {Coding::kVarint, "source", Shown::kDec},
     .b = {Coding::kDelta, "value", Shown::kDec}},
    {.kind = EventKind::kPacket, .name = "packet", .side = SideData::kBytes, .side_name = "data"},
    {.kind = EventKind::kConsoleInput,
     .name = "console-input",
     .side = SideData::kBytes,
     .side_name = "text",
     .side_shown = Shown::kText},
    {.kind = EventKind::kLandmark, .name = "landmark", .side = SideData::kLandmark},
    {.kind = EventKind::kRegDigest, .name = "reg-digest", .b = {Coding::kRaw64, "digest"}},
    {.kind = EventKind::kMemDigest, .name = "mem-digest", .b = {Coding::kRaw64, "digest"}},
    {.kind = EventKind::kGuestExit,
     .name = "guest-exit",
     .a = {Coding::kZigzag, "code", Shown::kInt},
     .b = {Coding::kVarint, "detail", Shown::kDec},
     .side = SideData::kText,
     .side_name = "reason",
     .side_shown = Shown::kText},
    {.kind = EventKind::kNote,
     .name = "note",
     .side = SideData::kText,
     .side_name = "text",
     .side_shown = Shown::kText},
    {.kind = EventKind::kTimeSkip,
     .name = "time-skip",
     .a = {Coding::kVarint, "cause", Shown::kDec},
     .b = {Coding::kVarint, "ns", Shown::kDec}},
    {.kind = EventKind::kProgress, .name = "progress"},
    {.kind = EventKind::kCompletion,
     .name = "completion",
     .a = {Coding::kVarint, "insn"},
     .b = {Coding::kVarint, "rip"}},
    {.kind = EventKind::kNmi, .name = "nmi", .flag = FlagUse::kAtLandmark},
};
constexpr int kEventKinds = static_cast<int>(std::size(kKindLayouts));

constexpr bool kind_layouts_in_order() {
  for (int i = 0; i < kEventKinds; ++i) {
    if (static_cast<int>(kKindLayouts[i].kind) != i) return false;
  }
  return true;
}
static_assert(kind_layouts_in_order(), "kKindLayouts rows must follow the EventKind numbers");

inline constexpr KindLayout kUnknownKind{.kind = EventKind(0xff), .name = "unknown"};

// The row of `k`; a kind outside the enum has no fields at all.
constexpr const KindLayout& kind_layout(EventKind k) {
  auto i = static_cast<unsigned>(k);
  return i < static_cast<unsigned>(kEventKinds) ? kKindLayouts[i] : kUnknownKind;
}

// "port-read", "clock-read", ... ("unknown" outside the enum).
const char* kind_name(EventKind k);
// Accepts "port-read", "port_read", "portRead" and "PortRead" (any case).
std::optional<EventKind> kind_from_name(std::string_view name);

constexpr bool kind_has_bytes(EventKind k) {
  return kind_layout(k).side == SideData::kBytes;
}
constexpr bool kind_has_text(EventKind k) {
  return kind_layout(k).side == SideData::kText;
}
constexpr bool kind_has_flag(EventKind k) {
  return kind_layout(k).flag != FlagUse::kNone;
}
// Reads whose value may be left to the device model.
constexpr bool kind_is_read(EventKind k) {
  return kind_layout(k).flag == FlagUse::kModelled;
}

// Why guest time was read (clock-read's source); replay hands each value to
// the same consumer.
enum class ClockSource : uint8_t {
  kDevice = 0,      // a device model asked for the time during an exit
  kTimerExit = 1,   // timers advanced at a natural exit
  kTimerAsync = 2,  // timers advanced at a kick / interrupt-window exit
};

// Why virtual guest time moved other than by an exit (time-skip's cause).
// Under --clock virtual without --log-values these are the only time events:
// every exit adds a fixed amount that replay adds itself.
enum class TimeSkip : uint8_t {
  kHalt = 0,  // the guest halted: time jumped to the next timer deadline (ns not stored: 0)
  kSpin = 1,  // the guest ran without an exit: time moved on by `ns` at a kick
};

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
  static constexpr Event clock_read(uint64_t ord, ClockSource source, uint64_t value) {
    return clock_read(ord, static_cast<uint32_t>(source), value);
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
  static constexpr Event time_skip(uint64_t ord, TimeSkip cause, uint64_t ns = 0) {
    return {EventKind::kTimeSkip, 0, 0, ord, static_cast<uint64_t>(cause), ns};
  }
  static constexpr Event progress(uint64_t ord) { return {EventKind::kProgress, 0, 0, ord, 0, 0}; }
  // An instruction KVM could not emulate that rrvm completed at exit `ord`
  // (vmm/instruction_completion.h): which one (0 int3, 1 fwait, 2 clac,
  // 3 stac, 4 popcnt, 5 ldmxcsr, 6 sse, 7 int n, 8 x87), the exception or
  // interrupt it raised (0xff: none), and its RIP.
  static constexpr Event nmi(uint64_t ord, bool at_landmark) {
    return {EventKind::kNmi, 0, uint8_t(at_landmark), ord, 0, 0};
  }
  static constexpr Event completion(uint64_t ord, uint8_t instruction, uint8_t vector,
                                    uint64_t rip) {
    return {EventKind::kCompletion, 0, 0, ord, instruction | uint64_t{vector} << 8, rip};
  }

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
  constexpr bool at_landmark() const {
    return flag != 0 && kind_layout(kind).flag == FlagUse::kAtLandmark;
  }
  constexpr bool is_clock(ClockSource s) const {
    return kind == EventKind::kClockRead && a == static_cast<uint64_t>(s);
  }
  constexpr bool is_skip(TimeSkip s) const {
    return kind == EventKind::kTimeSkip && a == static_cast<uint64_t>(s);
  }
  constexpr uint64_t ns() const { return b; }  // time-skip

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

// One event with its side data (null where the kind has none), as a reader
// or an EventSource hands it out; the pointers belong to whoever produced it.
struct ReadEvent {
  Event event;
  const LandmarkData* landmark = nullptr;
  const std::vector<uint8_t>* payload = nullptr;  // dma-write, packet, console-input
  const std::string* text = nullptr;              // guest-exit reason, note
};

// The same, owning its side data: in-memory streams, replay reports.
struct StoredEvent {
  Event event;
  LandmarkData landmark;       // landmark
  std::vector<uint8_t> bytes;  // dma-write, packet, console-input
  std::string text;            // guest-exit reason, note

  StoredEvent() = default;
  explicit StoredEvent(const Event& e) : event(e) {}
  explicit StoredEvent(const ReadEvent& r);
  // Points into this object: valid while it lives unchanged.
  ReadEvent view() const;
  friend bool operator==(const StoredEvent&, const StoredEvent&) = default;
};

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

// One instruction of the recording host's ring-0 probe (vmm/cpu_probe.h).
// The outcome numbers are the file format (trace.capnp, ProbeOutcome).
enum class ProbeOutcome : uint8_t {
  kWorks = 0,
  kEmulationFailure = 1,
  kFaults = 2,
  kNotOffered = 3
};
const char* outcome_name(ProbeOutcome o);  // "works", "emulation-failure", ...
struct InstructionProbe {
  std::string instruction;  // "cmpxchg16b"
  std::string feature;      // "cx16"; empty for baseline x86-64
  ProbeOutcome outcome = ProbeOutcome::kWorks;
  uint8_t vector = 0;  // kFaults: exception vector, 255 none
  friend bool operator==(const InstructionProbe&, const InstructionProbe&) = default;
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
  // Format 1.1. True: read values (and, under a virtual clock, guest time)
  // are not stored; replay recomputes them with its device models, which
  // should be those named by device_models. False (format 1.0 traces,
  // `rrvm record --log-values`): every value is stored.
  bool reads_modelled = false;
  std::string device_models;  // the recording build's device-model version ("" before 1.1)
  std::vector<InstructionProbe> host_probe;    // empty: not recorded (traces before it was)
  std::vector<std::string> host_forced_cpuid;  // flags the host showed whatever CPUID said
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
//
// 1.1 added the header's readsModelled and deviceModels and the time-skip
// event. A trace whose reads are modelled requires reader level 2: a 1.0
// reader would find no read values where it expects them and replay it as a
// divergence, so it must refuse it up front. A trace with every value stored
// (--log-values) still requires only level 1 and holds no 1.1 event kinds,
// so 1.0 builds read and replay it.
constexpr uint16_t kFormatMajor = 1;
constexpr uint16_t kFormatMinor = 1;
constexpr uint16_t kReaderCompat = 2;
constexpr uint16_t kValuesLoggedCompat = 1;  // every value stored: 1.0 readers replay it
constexpr uint16_t kModelledCompat = 2;      // reads left to the models

// A trace that cannot be read: `offset` is the byte where it went wrong.
class TraceError : public std::runtime_error {
 public:
  TraceError(const std::string& what, uint64_t offset)
      : std::runtime_error(what + " at byte " + std::to_string(offset)), offset_(offset) {}
  // Damage no single byte shows (a machine configuration this rrvm cannot
  // build, an image the header names but the trace lacks).
  explicit TraceError(const std::string& what) : std::runtime_error(what) {}
  uint64_t offset() const { return offset_; }
  // The trace file, set by a TraceReader opened on one ("" for a buffer):
  // a command that reads two traces says which one is damaged.
  const std::string& file() const { return file_; }
  void set_file(const std::string& file) { file_ = file; }

 private:
  uint64_t offset_ = 0;
  std::string file_;
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

}  // namespace rrvm::trace
