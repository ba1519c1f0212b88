#include "vmm/pc_board.h"

namespace rrvm {

PcBoard::PcBoard(const MachineConfig& cfg, GuestRam& ram, Clock& clock, CharSink& serial)
    : pit_(clock, pic_.irq(pc::kIrqPit)),
      rtc_(clock, pic_.irq(pc::kIrqRtc), static_cast<int64_t>(cfg.rtc_epoch)),
      uart_(serial, pic_.irq(pc::kIrqCom1)),
      debug_exit_([this](int status) {
        board_.stop = RunResult{StopReason::kGuestExit, status, "", 0};
      }) {
  uint64_t low = ram.regions()[0].size;
  rtc_.set_memory_size(low, ram.size() - low);
  board_.interrupts = &pic_;
  board_.timers = {&pit_, &rtc_};
  board_.console_input = [this](std::span<const uint8_t> bytes) { return uart_.receive(bytes); };
  map_legacy();
}

void PcBoard::map_legacy() {
  Bus& io = board_.pio;
  io.add(pc::kPicMaster, 2, pic_.master_io());
  io.add(pc::kPicSlave, 2, pic_.slave_io());
  io.add(pc::kElcr, 2, pic_.elcr_io());
  io.add(pc::kPit, 4, pit_);
  io.add(pc::kPort61, 1, pit_.port61());
  io.add(pc::kRtc, 2, rtc_);
  io.add(pc::kCom1, 8, uart_);
  io.add(pc::kPostCode, 1, post_);
  io.add(pc::kDebugExit, 4, debug_exit_);
}

}  // namespace rrvm
