// A PCI function's 256-byte configuration space with the standard type 0
// header (PCI Local Bus Specification 3.0, section 6.1 "Configuration Space
// Organization" and 6.2 "Configuration Space Functions"): read-only identity
// registers, per-byte writable and write-1-to-clear masks, Base Address
// Registers with the sizing protocol (6.2.5.1), the Command register's decode
// enables and Interrupt Disable, Interrupt Line and Pin (6.2.4).
//
// A device model owns one PciConfig, declares its BARs and device-specific
// registers at set-up, and either hands it to the host bridge directly (it
// is a PciDevice) or wraps it to react to its own registers (devices/piix_isa.h).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>

#include "devices/irq_line.h"
#include "devices/pci_device.h"

namespace rrvm {

class PciConfig final : public PciDevice {
 public:
  static constexpr int kSize = 256;
  static constexpr int kBarCount = 6;

  // Header offsets (PCI 3.0, Figure 6-1).
  static constexpr uint8_t kVendorId = 0x00, kDeviceId = 0x02, kCommand = 0x04, kStatus = 0x06;
  static constexpr uint8_t kRevision = 0x08, kClassCode = 0x09, kHeaderType = 0x0e;
  static constexpr uint8_t kBar0 = 0x10, kSubsystemVendor = 0x2c, kSubsystemId = 0x2e;
  static constexpr uint8_t kInterruptLine = 0x3c, kInterruptPin = 0x3d;

  // Command register bits (6.2.2).
  static constexpr uint16_t kCmdIo = 1u << 0, kCmdMemory = 1u << 1, kCmdBusMaster = 1u << 2;
  static constexpr uint16_t kCmdIntxDisable = 1u << 10;
  // Status register bits (6.2.3).
  static constexpr uint16_t kStsInterrupt = 1u << 3;

  struct Identity {
    uint16_t vendor = 0xffff;
    uint16_t device = 0xffff;
    uint8_t revision = 0;
    uint32_t class_code = 0;  // base class << 16 | sub-class << 8 | programming interface
    uint8_t header_type = 0;  // bit 7: multi-function device
    uint16_t subsystem_vendor = 0;
    uint16_t subsystem = 0;
  };

  enum class BarKind : uint8_t { kNone, kIo, kMem32 };

  // Called when a BAR's effective decode changes: the BAR was reprogrammed,
  // or the Command register's I/O / Memory Space enable toggled. `enabled`
  // is false while the function does not decode the range (enable bit off,
  // base 0, or a range that does not fit: I/O above 0xFFFF, memory reaching
  // 0xFFFFFFFF, as during sizing). The VMM moves the device's Bus mapping here.
  using BarObserver = std::function<void(int bar, uint64_t base, bool enabled)>;

  struct State {
    std::array<uint8_t, kSize> bytes{};  // the space as the guest reads it
    bool intx = false;                   // the function's INTx# request (before Interrupt Disable)
  };

  explicit PciConfig(const Identity& id);
  PciConfig(const PciConfig&) = delete;
  PciConfig& operator=(const PciConfig&) = delete;

  // --- Set-up (board wiring; bad arguments throw std::invalid_argument) ---
  // BAR `index` (0-5) decodes `size` bytes, a power of two, at least 4 for
  // I/O and 16 for memory. Memory BARs are 32-bit, "anywhere below 4 GiB".
  void add_bar(int index, BarKind kind, uint32_t size, bool prefetchable = false);
  // Interrupt Pin: 1-4 = INTA#-INTD#, 0 = no interrupt (the default).
  void set_interrupt_pin(uint8_t pin);
  // Device-specific register bits the guest may write (offsets 0x40-0xFF
  // normally); bits not set here are read-only.
  void set_writable(uint8_t offset, uint8_t mask);
  void set_write_1_to_clear(uint8_t offset, uint8_t mask);
  void set_bar_observer(BarObserver observer) { observer_ = std::move(observer); }
  // The INTx# wire (from PciIrqRouter::intx()); nullptr = not connected.
  void connect_intx(IrqLine* line) { intx_line_ = line; }

  // --- PciDevice: guest configuration cycles ---
  void config_read(uint8_t offset, std::span<uint8_t> data) override;
  void config_write(uint8_t offset, std::span<const uint8_t> data) override;

  // --- Device side: the function's own view, bypassing the guest masks ---
  uint8_t read8(uint8_t offset) const { return s_.bytes[offset]; }
  uint16_t read16(uint8_t offset) const;
  uint32_t read32(uint8_t offset) const;
  void set8(uint8_t offset, uint8_t v) { s_.bytes[offset] = v; }
  void set16(uint8_t offset, uint16_t v);
  void set32(uint8_t offset, uint32_t v);

  uint16_t command() const { return read16(kCommand); }
  bool bus_master() const { return (command() & kCmdBusMaster) != 0; }
  BarKind bar_kind(int bar) const;
  uint32_t bar_size(int bar) const;
  // The programmed base address (type bits removed) and whether it decodes.
  uint64_t bar_base(int bar) const;
  bool bar_enabled(int bar) const;

  // The function asserts (true) or deasserts its INTx# request. Status bit 3
  // follows it; the wire carries it unless Command bit 10 disables INTx.
  void set_intx(bool asserted);

  State save() const { return s_; }
  // Restores the bytes, then reports every BAR's decode to the observer so
  // the VMM's mappings follow the restored state. The INTx wire is not
  // driven: the router's own State holds the level it last saw.
  void restore(const State& s);

 private:
  struct Bar {
    BarKind kind = BarKind::kNone;
    uint32_t size = 0;
  };
  struct Decode {
    uint64_t base = 0;
    bool enabled = false;
    bool operator==(const Decode&) const = default;
  };

  Decode decode(int bar) const;
  void notify_bars(bool all);
  bool intx_output() const;
  void drive_intx(bool before);
  static bool overlaps(uint8_t offset, size_t len, uint8_t first, uint8_t end);

  State s_;
  std::array<uint8_t, kSize> writable_{};
  std::array<uint8_t, kSize> w1c_{};
  std::array<Bar, kBarCount> bars_{};
  std::array<Decode, kBarCount> reported_{};
  BarObserver observer_;
  IrqLine* intx_line_ = nullptr;
};

}  // namespace rrvm
