// The board's list of everything with state: what a machine checkpoint
// saves, restores and digests (vmm/machine_checkpoint.h). A device joins
// the list where the board builds it, and names the objects through which
// the board reaches it (its bus views, its timer); covers() lets a test
// check that every device on the buses and every timer is on the list, so
// a device added later cannot be left out of checkpoints unnoticed.
//
// States are kept as canonical bytes (vmm/state_fields.h): equal states
// are equal bytes, digest alike, and are cheap to copy.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "devices/interrupt_controller.h"
#include "devices/io_device.h"
#include "devices/pci_device.h"
#include "devices/timed_device.h"
#include "vmm/state_fields.h"

namespace rrvm {

class DeviceStates {
 public:
  using Blob = std::vector<uint8_t>;
  // One blob per device, in add() order.
  using Snapshot = std::vector<Blob>;

  // `device` has `State save() const` and `void restore(const State&)`
  // with a plain-data State (state_fields.h says what that allows). Restores run in add() order, so
  // add the devices that drive interrupt lines on restore (a NIC recomputing INTx) before the
  // controllers whose States hold those lines' levels. The device's own IoDevice / TimedDevice /
  // InterruptController / PciDevice bases are covered automatically; `views` adds other objects it
  // answers through (a PIC pair's port views).
  template <class Device>
  void add(std::string name, Device& device, std::vector<const void*> views = {});
  // Something the board reaches that has no state of its own (`why` says
  // where its state lives): covered, and nothing to save.
  void add_stateless(std::string name, std::vector<const void*> parts, std::string why);

  Snapshot save() const;
  // Throws std::invalid_argument for a snapshot of another board shape.
  void restore(const Snapshot& s) const;
  uint64_t digest(const Snapshot& s) const;
  // Names of the devices whose states differ between two snapshots.
  std::vector<std::string> differing(const Snapshot& a, const Snapshot& b) const;

  bool covers(const void* part) const;
  std::vector<std::string> names() const;

 private:
  struct Entry {
    std::string name;
    std::function<Blob()> save;  // empty for stateless parts
    std::function<void(const Blob&)> restore;
    std::vector<const void*> parts;
    std::string stateless_why;
  };

  template <class Device>
  static std::vector<const void*> bases(Device& d);

  std::vector<Entry> entries_;
};

template <class Device>
std::vector<const void*> DeviceStates::bases(Device& d) {
  std::vector<const void*> parts;
  if constexpr (std::is_base_of_v<IoDevice, Device>) parts.push_back(static_cast<IoDevice*>(&d));
  if constexpr (std::is_base_of_v<TimedDevice, Device>)
    parts.push_back(static_cast<TimedDevice*>(&d));
  if constexpr (std::is_base_of_v<InterruptController, Device>)
    parts.push_back(static_cast<InterruptController*>(&d));
  if constexpr (std::is_base_of_v<PciDevice, Device>) parts.push_back(static_cast<PciDevice*>(&d));
  return parts;
}

template <class Device>
void DeviceStates::add(std::string name, Device& device, std::vector<const void*> views) {
  using State = decltype(device.save());
  Entry e;
  e.name = std::move(name);
  e.save = [&device] {
    Blob b;
    state_fields::encode(device.save(), b);
    return b;
  };
  e.restore = [&device](const Blob& b) {
    State s{};
    std::span<const uint8_t> in(b);
    state_fields::decode(in, s);
    if (!in.empty()) throw std::invalid_argument("device state too long");
    device.restore(s);
  };
  e.parts = bases(device);
  e.parts.insert(e.parts.end(), views.begin(), views.end());
  entries_.push_back(std::move(e));
}

}  // namespace rrvm
