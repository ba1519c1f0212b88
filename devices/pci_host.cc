#include "devices/pci_host.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "devices/hex.h"

namespace rrvm {
namespace {

// CONFIG_ADDRESS fields (PCI 3.0, Figure 3-2).
constexpr uint32_t kEnable = 1u << 31;
constexpr uint32_t kAddressMask = 0x80fffffc;  // 30:24 and 1:0 reserved
constexpr int kBusShift = 16, kDeviceShift = 11, kFunctionShift = 8;
constexpr uint8_t kRegisterMask = 0xfc;
constexpr uint64_t kWindow = 4;  // both registers are 4 ports wide

// 82441FX PMC identity (datasheet, "PCI Configuration Registers"): host
// bridge class 06/00/00, revision 02h as on the PC QEMU emulates.
PciConfig::Identity host_bridge_identity() {
  PciConfig::Identity id;
  id.vendor = 0x8086;
  id.device = 0x1237;
  id.revision = 0x02;
  id.class_code = 0x060000;
  return id;
}

// The part of an access that lies inside a 4-port window; the rest reads
// all-ones (the Bus never produces such an access, this keeps a bad caller safe).
size_t in_window(uint64_t offset, size_t len) {
  if (offset >= kWindow) return 0;
  return std::min<uint64_t>(len, kWindow - offset);
}

}  // namespace

PciHost::PciHost(WarnFn warn) : warn_(std::move(warn)), host_bridge_(host_bridge_identity()) {
  attach(0, 0, host_bridge_);
}

void PciHost::attach(int device, int function, PciDevice& dev) {
  if (device < 0 || device >= kDevices || function < 0 || function >= kFunctions) {
    throw std::invalid_argument("PCI 00:" + std::to_string(device) + "." +
                                std::to_string(function) + " is out of range");
  }
  PciDevice*& slot = functions_[device * kFunctions + function];
  if (slot) {
    throw std::invalid_argument("PCI 00:" + std::to_string(device) + "." +
                                std::to_string(function) + " is already occupied");
  }
  slot = &dev;
}

PciDevice* PciHost::function_at(int device, int function) const {
  if (device < 0 || device >= kDevices || function < 0 || function >= kFunctions) return nullptr;
  return functions_[device * kFunctions + function];
}

void PciHost::restore(const State& s) {
  address_ = s.address & kAddressMask;
  host_bridge_.restore(s.host_bridge);
}

void PciHost::View::read(uint64_t offset, std::span<uint8_t> data) {
  if (port_ == Port::kAddress) {
    host_.address_read(offset, data);
  } else {
    host_.data_read(offset, data);
  }
}

void PciHost::View::write(uint64_t offset, std::span<const uint8_t> data) {
  if (port_ == Port::kAddress) {
    host_.address_write(offset, data);
  } else {
    host_.data_write(offset, data);
  }
}

void PciHost::address_read(uint64_t offset, std::span<uint8_t> data) const {
  std::fill(data.begin(), data.end(), uint8_t{0xff});
  size_t n = in_window(offset, data.size());
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<uint8_t>(address_ >> (8 * (offset + i)));
}

void PciHost::address_write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0 || data.size() != 4) {
    warn(warn_, "PCI: " + std::to_string(data.size()) + "-byte write of " + hex(load_le(data)) +
                    " to port 0xcf8+" + std::to_string(offset) +
                    " is not a CONFIG_ADDRESS access; ignored");
    return;
  }
  address_ = static_cast<uint32_t>(load_le(data)) & kAddressMask;
}

PciDevice* PciHost::selected() const {
  if ((address_ & kEnable) == 0) return nullptr;
  if (((address_ >> kBusShift) & 0xff) != 0) return nullptr;  // no bridges: bus 0 only
  int device = (address_ >> kDeviceShift) & 0x1f;
  int function = (address_ >> kFunctionShift) & 0x7;
  return functions_[device * kFunctions + function];
}

void PciHost::data_read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), uint8_t{0xff});
  size_t n = in_window(offset, data.size());
  PciDevice* dev = selected();
  if (!dev || n == 0) return;
  uint8_t reg = static_cast<uint8_t>((address_ & kRegisterMask) + offset);
  dev->config_read(reg, data.first(n));
}

void PciHost::data_write(uint64_t offset, std::span<const uint8_t> data) {
  size_t n = in_window(offset, data.size());
  PciDevice* dev = selected();
  if (!dev || n == 0) return;
  uint8_t reg = static_cast<uint8_t>((address_ & kRegisterMask) + offset);
  dev->config_write(reg, data.first(n));
}

}  // namespace rrvm
