// Realtek RTL8139C+ Fast Ethernet controller (PCI 10ec:8139, revision 0x20),
// the NIC of the seed: normal-mode TX slots and RX ring buffer, C+ mode TX
// and RX descriptor rings, and the onboard timer (TCTR/TimerInt) whose
// absence in kvm-84 made NetBSD's re(4) hang.
//
// References: RTL8139C(L)+ datasheet 1.6 (register table 6, C+ descriptors
// 9.2/9.3), PLATFORM.md (RTL8139C+), QEMU hw/net/rtl8139.c for behaviour the
// datasheet leaves open (TxOK once per C+ TxPoll batch, no TxDescUnavail when
// the ring runs dry: see cplus_transmit()).
//
// Everything external is injected: guest memory (every descriptor and
// buffer address is checked through GuestMemory, so a bad one sets the
// chip's error bits and touches nothing), guest time (Clock), the INTx wire
// (through the PciConfig) and the network (the TX sink and receive()).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "devices/clock.h"
#include "devices/eeprom93c46.h"
#include "devices/guest_memory.h"
#include "devices/io_device.h"
#include "devices/pci_config.h"
#include "devices/timed_device.h"
#include "devices/warn.h"

namespace rrvm {

class Rtl8139 final : public IoDevice, public TimedDevice {
 public:
  static constexpr uint32_t kRegisterSpace = 256;   // BAR0 (I/O) and BAR1 (memory)
  static constexpr uint64_t kTimerHz = 33'000'000;  // TCTR counts at the PCI clock
  // Registers (datasheet table 6).
  enum Reg : uint8_t {
    kIdr0 = 0x00,
    kMar0 = 0x08,
    kTsd0 = 0x10,
    kTsad0 = 0x20,
    kRbstart = 0x30,
    kCr = 0x37,
    kCapr = 0x38,
    kCbr = 0x3A,
    kImr = 0x3C,
    kIsr = 0x3E,
    kTcr = 0x40,
    kRcr = 0x44,
    kTctr = 0x48,
    kMpc = 0x4C,
    k9346Cr = 0x50,
    kConfig0 = 0x51,
    kConfig1 = 0x52,
    kTimerInt = 0x54,
    kMsr = 0x58,
    kConfig3 = 0x59,
    kConfig4 = 0x5A,
    kMulInt = 0x5C,
    kTsadSummary = 0x60,
    kBmcr = 0x62,
    kBmsr = 0x64,
    kAnar = 0x66,
    kAnlpar = 0x68,
    kCscr = 0x74,
    kTxPoll = 0xD9,
    kRxMaxSize = 0xDA,
    kCplusCmd = 0xE0,
    kIntrMitigate = 0xE2,
    kRxRingAddr = 0xE4,
  };
  // ISR/IMR bits.
  static constexpr uint16_t kIsrRxOk = 1 << 0, kIsrRxErr = 1 << 1, kIsrTxOk = 1 << 2,
                            kIsrTxErr = 1 << 3, kIsrRxOverflow = 1 << 4, kIsrLinkChg = 1 << 5,
                            kIsrFifoOverflow = 1 << 6, kIsrTxDescUnavail = 1 << 7,
                            kIsrSwInt = 1 << 8, kIsrTimeOut = 1 << 14, kIsrSystemErr = 1 << 15;
  // C+ descriptor dword 0.
  static constexpr uint32_t kDescOwn = 1u << 31, kDescEor = 1u << 30, kDescFs = 1u << 29,
                            kDescLs = 1u << 28;

  struct Config {
    std::array<uint8_t, 6> mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    // --rtl8139-timer: off behaves as kvm-84's QEMU built without
    // RTL8139_ONBOARD_TIMER: TCTR reads as 0 and TimerInt never fires.
    bool timer_enabled = true;
  };

  struct State {
    std::array<uint8_t, kRegisterSpace> regs{};
    uint64_t tctr_base_ns = 0;    // Clock time of the last TCTR reset
    uint64_t timer_periods = 0;   // TimerInt expiries already raised since the reset
    uint32_t cplus_tx_index = 0;  // next C+ TX descriptor
    uint32_t cplus_rx_index = 0;  // next C+ RX descriptor
    Eeprom93c46::State eeprom;
    bool warned_bus_master = false;
  };

  Rtl8139(Clock& clock, GuestMemory& mem, Config config, WarnFn warn = {});
  Rtl8139(const Rtl8139&) = delete;
  Rtl8139& operator=(const Rtl8139&) = delete;

  PciConfig& pci() { return pci_; }
  IoDevice& io() { return *this; }
  IoDevice& mmio() { return *this; }
  // Frames the guest transmits; dropped while unset.
  void set_tx_sink(std::function<void(std::span<const uint8_t>)> sink) { tx_ = std::move(sink); }

  // IoDevice: the register file. Byte, word and dword accesses at their
  // natural alignment are what drivers do; anything else (unaligned, 8 bytes)
  // is carried out byte by byte, as the bus would split it, with a warning.
  std::string_view name() const override { return "rtl8139"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  std::string register_name(uint64_t offset) const override;

  // A frame from the network (without FCS). False when the filters reject
  // it or there is no room (counted in MPC, RxOverflow raised).
  bool receive(std::span<const uint8_t> frame);
  bool rx_enabled() const { return s_.regs[kCr] & kCrRxEnable; }

  // TimedDevice: the TimerInt expiry.
  std::optional<uint64_t> next_deadline_ns() const override;
  void advance(uint64_t now_ns) override;

  uint16_t isr() const { return reg16(kIsr); }
  // TCTR as the guest would read it at `now_ns` (0 with the timer off).
  uint32_t tctr(uint64_t now_ns) const;

  State save() const;
  void restore(const State& s);

 private:
  static constexpr uint8_t kCrReset = 1 << 4, kCrRxEnable = 1 << 3, kCrTxEnable = 1 << 2,
                           kCrBufEmpty = 1 << 0;
  static constexpr uint16_t kCplusTxEnable = 1 << 0, kCplusRxEnable = 1 << 1;
  // TSD SIZE may not exceed 0x700 (datasheet, TSD0-3); the same bound holds a
  // C+ frame gathered from descriptors (no large send offload modelled).
  static constexpr size_t kMaxTxFrame = 1792;
  // Frames from the network beyond this are not Ethernet: dropped.
  static constexpr size_t kMaxRxFrame = 8192;
  // A ring without EOR still wraps after this many descriptors (the
  // datasheet allows up to 64; the bound only keeps the index finite).
  static constexpr uint32_t kMaxRingEntries = 1024;

  // Side effects of one guest write, run after all its bytes are stored.
  struct WriteEffects {
    bool timer_reset = false, timer_int = false, irq = false, tx_poll = false;
    int tsd_slot = -1;
  };

  void reset(bool power_on);
  void check_access(const char* what, uint64_t offset, size_t size);
  uint8_t read8(uint8_t offset);
  void write_byte(uint8_t offset, uint8_t v, WriteEffects& fx);
  void write_command(uint8_t v);
  void write_protected(uint8_t offset, uint8_t v);
  void apply(const WriteEffects& fx);
  bool config_unlocked() const;
  uint16_t reg16(uint8_t off) const;
  uint32_t reg32(uint8_t off) const;
  void set16(uint8_t off, uint16_t v);
  void set32(uint8_t off, uint32_t v);
  void raise(uint16_t isr_bits);
  void update_irq();
  bool dma_allowed();
  bool dma_read(uint64_t gpa, std::span<uint8_t> out, const char* what);
  bool dma_write(uint64_t gpa, std::span<const uint8_t> in, const char* what);
  void eeprom_write(uint8_t v);
  void transmit_slot(int slot);
  void cplus_transmit();
  bool cplus_transmit_one(std::vector<uint8_t>& frame, bool& broken, int& sent);
  bool cplus_gather(std::vector<uint8_t>& frame, uint32_t len, uint64_t buf);
  bool accepts(std::span<const uint8_t> frame) const;
  bool receive_cplus(std::span<const uint8_t> frame);
  bool receive_ring(std::span<const uint8_t> frame);
  void restart_timer();
  uint64_t timer_deadline() const;
  uint64_t expiries_by(uint64_t now_ns) const;

  Clock& clock_;
  GuestMemory& mem_;
  Config config_;
  WarnFn warn_;
  PciConfig pci_;
  Eeprom93c46 eeprom_;
  std::function<void(std::span<const uint8_t>)> tx_;
  State s_;
};

// The Ethernet CRC-32 (IEEE 802.3 FCS), as the chip appends it to received
// frames (little-endian, after the data).
uint32_t ethernet_crc32(std::span<const uint8_t> bytes);

}  // namespace rrvm
