#include "devices/uart16550.h"

#include <algorithm>

namespace rrvm {
namespace {

// Register offsets (NS16550A datasheet, Table II). DLAB = LCR bit 7.
constexpr uint64_t kRbrThr = 0;  // DLL with DLAB
constexpr uint64_t kIer = 1;     // DLM with DLAB
constexpr uint64_t kIirFcr = 2;
constexpr uint64_t kLcr = 3;
constexpr uint64_t kMcr = 4;
constexpr uint64_t kLsr = 5;
constexpr uint64_t kMsr = 6;
constexpr uint64_t kScr = 7;

// IER (8.10).
constexpr uint8_t kIerRxData = 0x01;      // ERBFI
constexpr uint8_t kIerThrEmpty = 0x02;    // ETBEI
constexpr uint8_t kIerLineStatus = 0x04;  // ELSI
constexpr uint8_t kIerModem = 0x08;       // EDSSI
constexpr uint8_t kIerMask = 0x0f;

// IIR (8.4, Table IV): bit 0 = 1 means no interrupt; bits 3-1 identify it.
constexpr uint8_t kIirNone = 0x01;
constexpr uint8_t kIirLineStatus = 0x06;  // priority 1
constexpr uint8_t kIirRxData = 0x04;      // priority 2
constexpr uint8_t kIirTimeout = 0x0c;     // priority 2
constexpr uint8_t kIirThrEmpty = 0x02;    // priority 3
constexpr uint8_t kIirModem = 0x00;       // priority 4
constexpr uint8_t kIirFifosEnabled = 0xc0;

// FCR (8.5).
constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;
constexpr uint8_t kFcrKept = 0xc9;  // enable, DMA mode, RX trigger level

// LCR (8.6).
constexpr uint8_t kLcrDlab = 0x80;

// MCR (8.7).
constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;
constexpr uint8_t kMcrMask = 0x1f;

// LSR (8.8).
constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrOverrun = 0x02;
constexpr uint8_t kLsrErrors = 0x1e;  // OE, PE, FE, BI
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrTxEmpty = 0x40;

// MSR (8.9): inputs in bits 7-4, change indications in bits 3-0.
constexpr uint8_t kMsrDcts = 0x01;
constexpr uint8_t kMsrDdsr = 0x02;
constexpr uint8_t kMsrTeri = 0x04;
constexpr uint8_t kMsrDdcd = 0x08;
constexpr uint8_t kMsrDeltas = 0x0f;
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;
// What the host side presents when not in loopback: a modem that is there
// and ready (CTS, DSR, DCD), no ring.
constexpr uint8_t kMsrHostInputs = kMsrCts | kMsrDsr | kMsrDcd;

}  // namespace

Uart16550::Uart16550(CharSink& out, IrqLine& irq, std::string name)
    : out_(out), irq_(irq), name_(std::move(name)) {
  s_.msr = modem_inputs();
}

bool Uart16550::fifo_enabled() const {
  return (s_.fcr & kFcrEnable) != 0;
}

size_t Uart16550::rx_trigger() const {
  static constexpr size_t kLevels[4] = {1, 4, 8, 14};  // FCR bits 7-6
  return kLevels[s_.fcr >> 6];
}

size_t Uart16550::rx_free() const {
  size_t capacity = fifo_enabled() ? kFifoSize : 1;
  return s_.rx_count < capacity ? capacity - s_.rx_count : 0;
}

// Loopback connects DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (8.7).
uint8_t Uart16550::modem_inputs() const {
  if (!(s_.mcr & kMcrLoop)) return kMsrHostInputs;
  return static_cast<uint8_t>(
      ((s_.mcr & kMcrDtr) ? kMsrDsr : 0) | ((s_.mcr & kMcrRts) ? kMsrCts : 0) |
      ((s_.mcr & kMcrOut1) ? kMsrRi : 0) | ((s_.mcr & kMcrOut2) ? kMsrDcd : 0));
}

// Highest-priority pending interrupt (Table IV order).
uint8_t Uart16550::interrupt_id() const {
  if ((s_.ier & kIerLineStatus) && (s_.lsr_errors & kLsrErrors)) return kIirLineStatus;
  if ((s_.ier & kIerRxData) && s_.rx_count > 0) {
    return fifo_enabled() && s_.rx_count < rx_trigger() ? kIirTimeout : kIirRxData;
  }
  if ((s_.ier & kIerThrEmpty) && s_.thre_pending) return kIirThrEmpty;
  if ((s_.ier & kIerModem) && (s_.msr & kMsrDeltas)) return kIirModem;
  return kIirNone;
}

void Uart16550::update_irq() {
  bool gate = (s_.mcr & kMcrOut2) && !(s_.mcr & kMcrLoop);
  bool level = gate && interrupt_id() != kIirNone;
  if (level == s_.irq_level) return;
  s_.irq_level = level;
  irq_.set_level(level);
}

bool Uart16550::push_rx(uint8_t v) {
  if (rx_free() == 0) {
    s_.lsr_errors |= kLsrOverrun;
    // 16450 mode: the new character overwrites the holding register. FIFO
    // mode: the FIFO keeps its data and the character is lost (8.8, OE).
    if (!fifo_enabled()) s_.rx[s_.rx_head] = v;
    return false;
  }
  s_.rx[(s_.rx_head + s_.rx_count) % kFifoSize] = v;
  ++s_.rx_count;
  return true;
}

size_t Uart16550::receive(std::span<const uint8_t> bytes) {
  if (s_.mcr & kMcrLoop) return 0;  // serial input disconnected in loopback
  size_t stored = 0;
  for (uint8_t b : bytes) stored += push_rx(b) ? 1 : 0;
  update_irq();
  return stored;
}

uint8_t Uart16550::read_rbr() {
  if (s_.rx_count == 0) return 0;
  uint8_t v = s_.rx[s_.rx_head];
  s_.rx_head = static_cast<uint8_t>((s_.rx_head + 1) % kFifoSize);
  --s_.rx_count;
  return v;
}

// Reading IIR clears a THR-empty interrupt if that is what it reports (8.4).
uint8_t Uart16550::read_iir() {
  uint8_t id = interrupt_id();
  if (id == kIirThrEmpty) s_.thre_pending = false;
  return static_cast<uint8_t>(id | (fifo_enabled() ? kIirFifosEnabled : 0));
}

// Reading LSR clears the error bits and so the line-status interrupt.
uint8_t Uart16550::read_lsr() {
  uint8_t v = static_cast<uint8_t>((s_.rx_count ? kLsrDataReady : 0) | s_.lsr_errors |
                                   kLsrThrEmpty | kLsrTxEmpty);
  s_.lsr_errors = 0;
  return v;
}

// Reading MSR clears the change indications and so the modem interrupt.
uint8_t Uart16550::read_msr() {
  uint8_t v = s_.msr;
  s_.msr &= static_cast<uint8_t>(~kMsrDeltas);
  return v;
}

void Uart16550::write_thr(uint8_t v) {
  if (s_.mcr & kMcrLoop) {
    push_rx(v);
  } else {
    out_.write(v);
  }
  s_.thre_pending = true;  // sent at once: THR is empty again
}

// Enabling ETBEI while THR is empty raises the THR-empty interrupt.
void Uart16550::write_ier(uint8_t v) {
  bool was = (s_.ier & kIerThrEmpty) != 0;
  s_.ier = v & kIerMask;
  if (!was && (s_.ier & kIerThrEmpty)) s_.thre_pending = true;
}

// Changing the FIFO enable clears the FIFOs; the other bits act only with
// the enable bit set in the same write (8.5). The TX FIFO is always empty.
void Uart16550::write_fcr(uint8_t v) {
  bool enable = (v & kFcrEnable) != 0;
  if (enable != fifo_enabled() || (enable && (v & kFcrClearRx))) s_.rx_count = 0;
  s_.fcr = enable ? (v & kFcrKept) : 0;
}

void Uart16550::write_mcr(uint8_t v) {
  uint8_t before = modem_inputs();
  s_.mcr = v & kMcrMask;
  uint8_t after = modem_inputs();
  uint8_t changed = before ^ after;
  uint8_t deltas = static_cast<uint8_t>(
      ((changed & kMsrCts) ? kMsrDcts : 0) | ((changed & kMsrDsr) ? kMsrDdsr : 0) |
      ((changed & kMsrDcd) ? kMsrDdcd : 0) | ((before & ~after & kMsrRi) ? kMsrTeri : 0));
  s_.msr = static_cast<uint8_t>(after | (s_.msr & kMsrDeltas) | deltas);
}

uint8_t Uart16550::read_reg(uint64_t reg) {
  bool dlab = (s_.lcr & kLcrDlab) != 0;
  switch (reg) {
    case kRbrThr:
      return dlab ? s_.dll : read_rbr();
    case kIer:
      return dlab ? s_.dlm : s_.ier;
    case kIirFcr:
      return read_iir();
    case kLcr:
      return s_.lcr;
    case kMcr:
      return s_.mcr;
    case kLsr:
      return read_lsr();
    case kMsr:
      return read_msr();
    case kScr:
      return s_.scr;
    default:
      return 0xff;
  }
}

void Uart16550::write_reg(uint64_t reg, uint8_t v) {
  bool dlab = (s_.lcr & kLcrDlab) != 0;
  switch (reg) {
    case kRbrThr:
      if (dlab) {
        s_.dll = v;
      } else {
        write_thr(v);
      }
      return;
    case kIer:
      if (dlab) {
        s_.dlm = v;
      } else {
        write_ier(v);
      }
      return;
    case kIirFcr:
      return write_fcr(v);
    case kLcr:
      s_.lcr = v;
      return;
    case kMcr:
      return write_mcr(v);
    case kScr:
      s_.scr = v;
      return;
    default:  // LSR, MSR: status registers, writes are for factory test only
      return;
  }
}

void Uart16550::read(uint64_t offset, std::span<uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = read_reg(offset + i);
  update_irq();
}

void Uart16550::write(uint64_t offset, std::span<const uint8_t> data) {
  for (size_t i = 0; i < data.size(); ++i) write_reg(offset + i, data[i]);
  update_irq();
}

void Uart16550::restore(const State& s) {
  s_ = s;
  s_.rx_head %= kFifoSize;
  s_.rx_count = static_cast<uint8_t>(std::min<size_t>(s_.rx_count, kFifoSize));
  s_.ier &= kIerMask;
  s_.mcr &= kMcrMask;
  s_.lsr_errors &= kLsrErrors;
  if (!fifo_enabled()) s_.rx_count = std::min<uint8_t>(s_.rx_count, 1);
}

}  // namespace rrvm
