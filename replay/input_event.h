// The record/replay engine's view of one logged input. The trace library
// stores these (trace_bridge.cc maps them to trace records); the engine and
// its tests only ever see this struct, through EventSink / EventSource.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "replay/landmark.h"

namespace rrvm {

enum class InputKind : uint8_t {
  kPortRead,      // addr = port, size, value
  kMmioRead,      // addr = physical address, size, value
  kClockRead,     // addr = ClockSource, value = guest ns
  kInterrupt,     // value = vector, async = injected at the preceding landmark
  kLandmark,      // landmark
  kRegDigest,     // value = RegisterSnapshot::digest()
  kMemDigest,     // value = DirtyTracker::digest()
  kConsoleInput,  // bytes
  kGuestExit,     // value = status, text = reason
  kPacket,        // bytes of a frame the network handed to the NIC
};

// Why time was read; replay feeds each value back to the same consumer.
enum class ClockSource : uint8_t {
  kDevice = 0,      // a device model asked for the time during an exit
  kTimerExit = 1,   // timers advanced at a natural exit
  kTimerAsync = 2,  // timers advanced at a kick / interrupt-window exit
};

struct InputEvent {
  InputKind kind = InputKind::kPortRead;
  uint64_t ordinal = 0;  // natural exits before (or at) this event
  uint64_t addr = 0;
  uint64_t value = 0;
  uint8_t size = 0;
  bool async = false;
  Landmark landmark;           // kLandmark only
  std::vector<uint8_t> bytes;  // kConsoleInput
  std::string text;            // kGuestExit reason
};

const char* to_string(InputKind k);
// One line for reports: "#1234 port read 0x40 (1 byte) = 0x3c".
std::string describe(const InputEvent& e);

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void put(const InputEvent& e) = 0;
  // Called about once a second: push what is buffered towards the disk
  // (without blocking the vCPU).
  virtual void flush() {}
};

class EventSource {
 public:
  virtual ~EventSource() = default;
  // The next event, or null at the end (of the file, or of a truncated one).
  virtual const InputEvent* peek() = 0;
  virtual void pop() = 0;
};

// In-memory stream for tests and small tools.
class VectorEvents final : public EventSink, public EventSource {
 public:
  void put(const InputEvent& e) override { events.push_back(e); }
  const InputEvent* peek() override { return next < events.size() ? &events[next] : nullptr; }
  void pop() override { ++next; }
  std::vector<InputEvent> events;
  size_t next = 0;
};

}  // namespace rrvm
