// The PC that rrvm builds: which device sits at which port, address and IRQ.
// Placement lives here as named constants, never inside a device (the
// Firecracker device-manager shape).
#pragma once

#include <memory>

#include "devices/char_backend.h"
#include "devices/clock.h"
#include "devices/debug_exit.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/post_port.h"
#include "devices/rtc.h"
#include "devices/uart16550.h"
#include "vmm/board.h"
#include "vmm/guest_ram.h"
#include "vmm/machine_config.h"

namespace rrvm {

namespace pc {
// Legacy ISA ports (PLATFORM.md, Legacy PC devices).
constexpr uint16_t kPicMaster = 0x20, kPicSlave = 0xA0, kElcr = 0x4D0;
constexpr uint16_t kPit = 0x40, kPort61 = 0x61;
constexpr uint16_t kRtc = 0x70;
constexpr uint16_t kCom1 = 0x3F8;
constexpr uint16_t kPostCode = 0x80;
constexpr uint16_t kDebugExit = 0xF4;  // QEMU's isa-debug-exit,iobase=0xf4,iosize=4
// ISA IRQs.
constexpr int kIrqPit = 0, kIrqCom1 = 4, kIrqRtc = 8;
}  // namespace pc

class PcBoard {
 public:
  PcBoard(const MachineConfig& cfg, GuestRam& ram, Clock& clock, CharSink& serial);
  PcBoard(const PcBoard&) = delete;
  PcBoard& operator=(const PcBoard&) = delete;

  Board& board() { return board_; }
  Uart16550& uart() { return uart_; }
  PicPair& pic() { return pic_; }

 private:
  void map_legacy();

  Board board_;
  PicPair pic_;
  Pit8254 pit_;
  Rtc146818 rtc_;
  Uart16550 uart_;
  PostPort post_;
  DebugExit debug_exit_;
};

}  // namespace rrvm
