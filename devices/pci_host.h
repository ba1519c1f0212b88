// PCI configuration mechanism #1 and bus 0 of a PC, with the Intel 82441FX
// (i440FX PMC) host bridge at 00:00.0.
//
// Reference: PCI Local Bus Specification 3.0, section 3.2.2.3.2 "Software
// Generation of Configuration Transactions" (CONFIG_ADDRESS at 0xCF8,
// CONFIG_DATA at 0xCFC); Intel 82441FX datasheet (order 290549), CONFADD /
// CONFDATA and the PMC's VID/DID 8086:1237, RID 02h.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "devices/io_device.h"
#include "devices/pci_config.h"
#include "devices/pci_device.h"
#include "devices/warn.h"

namespace rrvm {

// I/O views (IoDevices the VMM maps; offsets are relative):
//   address_io(): 4 ports, map at 0xCF8 (CONFIG_ADDRESS)
//   data_io():    4 ports, map at 0xCFC (CONFIG_DATA, byte/word/dword at 0xCFC-0xCFF)
//
// CONFIG_ADDRESS: bit 31 enable, 23:16 bus, 15:11 device, 10:8 function,
// 7:2 register; bits 30:24 and 1:0 are reserved and read 0. Only a dword
// write at 0xCF8 loads it: the spec passes narrower accesses to 0xCF8-0xCFB
// through as ordinary I/O (on the PIIX, 0xCF9 is the reset control register,
// not modelled: such writes are ignored with a warning). Any read returns
// (the bytes of) the latch.
//
// CONFIG_DATA: with the enable bit clear, or for a bus other than 0, or an
// empty device/function, reads return all-ones (a master abort) and writes
// are dropped. Byte k of the window addresses register (address & 0xFC) + k.
class PciHost {
 public:
  static constexpr int kDevices = 32;
  static constexpr int kFunctions = 8;

  struct State {
    uint32_t address = 0;          // CONFIG_ADDRESS latch
    PciConfig::State host_bridge;  // 00:00.0
  };

  explicit PciHost(WarnFn warn = {});
  PciHost(const PciHost&) = delete;
  PciHost& operator=(const PciHost&) = delete;

  // Plugs `dev` into bus 0 at device (0-31) / function (0-7). Throws
  // std::invalid_argument if out of range or occupied (00:00.0 is the host bridge).
  void attach(int device, int function, PciDevice& dev);
  PciDevice* function_at(int device, int function) const;

  IoDevice& address_io() { return address_io_; }
  IoDevice& data_io() { return data_io_; }
  PciConfig& host_bridge() { return host_bridge_; }

  State save() const { return {address_, host_bridge_.save()}; }
  void restore(const State& s);

 private:
  enum class Port { kAddress, kData };

  class View final : public IoDevice {
   public:
    View(PciHost& host, Port port, std::string_view name) : host_(host), port_(port), name_(name) {}
    std::string_view name() const override { return name_; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    PciHost& host_;
    Port port_;
    std::string_view name_;
  };

  void address_read(uint64_t offset, std::span<uint8_t> data) const;
  void address_write(uint64_t offset, std::span<const uint8_t> data);
  // The function the latch selects, or nullptr (disabled, other bus, empty).
  PciDevice* selected() const;
  void data_read(uint64_t offset, std::span<uint8_t> data);
  void data_write(uint64_t offset, std::span<const uint8_t> data);

  WarnFn warn_;
  uint32_t address_ = 0;
  PciConfig host_bridge_;
  std::array<PciDevice*, kDevices * kFunctions> functions_{};
  View address_io_{*this, Port::kAddress, "pci-config-address"};
  View data_io_{*this, Port::kData, "pci-config-data"};
};

}  // namespace rrvm
