#include "replay/input_event.h"

#include "devices/hex.h"

namespace rrvm {

const char* to_string(InputKind k) {
  switch (k) {
    case InputKind::kPortRead:
      return "port read";
    case InputKind::kMmioRead:
      return "mmio read";
    case InputKind::kClockRead:
      return "clock read";
    case InputKind::kInterrupt:
      return "interrupt";
    case InputKind::kLandmark:
      return "landmark";
    case InputKind::kRegDigest:
      return "register digest";
    case InputKind::kMemDigest:
      return "memory digest";
    case InputKind::kConsoleInput:
      return "console input";
    case InputKind::kGuestExit:
      return "guest exit";
    case InputKind::kPacket:
      return "packet";
  }
  return "?";
}

std::string describe(const InputEvent& e) {
  std::string s = "#" + std::to_string(e.ordinal) + " " + to_string(e.kind);
  switch (e.kind) {
    case InputKind::kPortRead:
    case InputKind::kMmioRead:
      return s + " " + hex(e.addr) + " (" + std::to_string(e.size) + " bytes) = " + hex(e.value);
    case InputKind::kClockRead: {
      static const char* src[] = {"device", "timer at exit", "timer at kick"};
      return s + " (" + (e.addr < 3 ? src[e.addr] : "?") + ") = " + std::to_string(e.value) + " ns";
    }
    case InputKind::kInterrupt:
      return s + " vector " + hex(e.value) + (e.async ? " at landmark" : " at exit");
    case InputKind::kLandmark:
      return s + " rip " + hex(e.landmark.regs.rip) + " cpl " + std::to_string(e.landmark.cpl);
    case InputKind::kGuestExit:
      return s + " status " + std::to_string(e.value) + " (" + e.text + ")";
    case InputKind::kConsoleInput:
    case InputKind::kPacket:
      return s + " " + std::to_string(e.bytes.size()) + " bytes";
    default:
      return s + " " + hex(e.value);
  }
}

}  // namespace rrvm
