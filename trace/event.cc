#include "trace/event.h"

#include <cctype>
#include <iterator>

namespace rrvm::trace {

namespace {

// "Port-Read", "port_read", "portRead" -> "portread".
std::string fold(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '-' && c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

const char* kind_name(EventKind k) {
  return kind_layout(k).name;
}

std::optional<EventKind> kind_from_name(std::string_view name) {
  std::string want = fold(name);
  for (int i = 0; i < kEventKinds; ++i) {
    if (fold(kKindLayouts[i].name) == want) return static_cast<EventKind>(i);
  }
  return std::nullopt;
}

StoredEvent::StoredEvent(const ReadEvent& r) : event(r.event) {
  if (r.landmark) landmark = *r.landmark;
  if (r.payload) bytes = *r.payload;
  if (r.text) text = *r.text;
}

ReadEvent StoredEvent::view() const {
  ReadEvent r;
  r.event = event;
  const SideData side = kind_layout(event.kind).side;
  if (side == SideData::kLandmark) r.landmark = &landmark;
  if (side == SideData::kBytes) r.payload = &bytes;
  if (side == SideData::kText) r.text = &text;
  return r;
}

const char* outcome_name(ProbeOutcome o) {
  static constexpr const char* kOutcomes[] = {"works", "emulation-failure", "faults",
                                              "not-offered"};
  auto i = static_cast<unsigned>(o);
  return i < std::size(kOutcomes) ? kOutcomes[i] : "unknown";
}

}  // namespace rrvm::trace
