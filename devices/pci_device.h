// One PCI function as the host bridge sees it: a 256-byte configuration space
// (PCI Local Bus Specification 3.0, chapter 6). The host bridge
// (devices/pci_host.h) routes configuration cycles here; devices build their
// space with PciConfig (devices/pci_config.h), which implements this
// interface with the standard type 0 header, writable masks and BAR sizing.
#pragma once

#include <cstdint>
#include <span>

namespace rrvm {

class PciDevice {
 public:
  virtual ~PciDevice() = default;

  // A configuration read or write of data.size() bytes (1, 2 or 4) at
  // `offset` (0-255). The host bridge never lets an access cross a dword
  // boundary, so offset % 4 + data.size() <= 4. A read must fill all of data.
  virtual void config_read(uint8_t offset, std::span<uint8_t> data) = 0;
  virtual void config_write(uint8_t offset, std::span<const uint8_t> data) = 0;
};

}  // namespace rrvm
