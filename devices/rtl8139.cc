#include "devices/rtl8139.h"

#include <algorithm>

#include "devices/hex.h"

namespace rrvm {

namespace {

constexpr uint16_t kTsdOwn = 1 << 13, kTsdTok = 1 << 15;
constexpr uint32_t kTsdSizeMask = 0x1fff;
constexpr uint32_t kTcrVersion = 0x74800000;  // HWVERID of the 8139C+ (PLATFORM.md)
constexpr uint8_t kRcrAcceptAll = 1 << 0, kRcrPhysMatch = 1 << 1, kRcrMulticast = 1 << 2,
                  kRcrBroadcast = 1 << 3, kRcrWrap = 1 << 7;
constexpr uint16_t kRxStatusOk = 1 << 0, kRxStatusBroadcast = 1 << 13, kRxStatusPhysical = 1 << 14,
                   kRxStatusMulticast = 1 << 15;
constexpr uint8_t kTxPollNormal = 1 << 6;
constexpr uint32_t kCplusTxLenMask = 0xffff, kCplusRxLenMask = 0x1fff;
constexpr int kMaxDescriptorsPerPoll = 64;  // QEMU's bound on one TxPoll
constexpr uint64_t kPeriodTicks = 1ull << 32;

std::array<uint16_t, Eeprom93c46::kWords> eeprom_words(const std::array<uint8_t, 6>& mac) {
  std::array<uint16_t, Eeprom93c46::kWords> w{};
  w[0] = 0x8129;  // RTL8139 EEPROM signature, checked by Linux 8139too and NetBSD rtk
  w[1] = 0x10ec;
  w[2] = 0x8139;
  for (int i = 0; i < 3; ++i) w[7 + i] = uint16_t(mac[2 * i] | mac[2 * i + 1] << 8);
  return w;
}

bool in(uint8_t off, uint8_t reg, uint8_t size) {
  return off >= reg && off < reg + size;
}

}  // namespace

uint32_t ethernet_crc32(std::span<const uint8_t> bytes) {
  uint32_t crc = 0xffffffff;
  for (uint8_t b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

Rtl8139::Rtl8139(Clock& clock, GuestMemory& mem, Config config, WarnFn warn)
    : clock_(clock),
      mem_(mem),
      config_(config),
      warn_(std::move(warn)),
      pci_(PciConfig::Identity{0x10ec, 0x8139, 0x20, 0x020000, 0, 0x10ec, 0x8139}),
      eeprom_(eeprom_words(config.mac)) {
  pci_.add_bar(0, PciConfig::BarKind::kIo, kRegisterSpace);
  pci_.add_bar(1, PciConfig::BarKind::kMem32, kRegisterSpace);
  pci_.set_interrupt_pin(1);
  reset();
}

// Power-on values (datasheet table 6); the MAC comes back from the EEPROM.
void Rtl8139::reset() {
  s_.regs.fill(0);
  std::copy(config_.mac.begin(), config_.mac.end(), s_.regs.begin() + kIdr0);
  set32(kTcr, kTcrVersion);
  s_.regs[kCr] = kCrBufEmpty;
  set16(kCapr, 0xfff0);  // CAPR + 16 == CBR: the ring is empty
  s_.regs[kConfig1] = 0x8d;
  set16(kBmcr, 0x3100);  // 100 Mb/s, autonegotiation on, full duplex
  set16(kBmsr, 0x782d);  // link up, autonegotiation complete
  set16(kAnar, 0x05e1);
  set16(kAnlpar, 0x05e1);
  set16(kRxMaxSize, 0x0800);
  s_.cplus_tx_index = s_.cplus_rx_index = s_.tx_slot = 0;
  s_.timer_periods = 0;
  update_irq();
}

uint16_t Rtl8139::reg16(uint8_t off) const {
  return uint16_t(s_.regs[off] | s_.regs[uint8_t(off + 1)] << 8);
}
uint32_t Rtl8139::reg32(uint8_t off) const {
  return uint32_t(reg16(off)) | uint32_t(reg16(uint8_t(off + 2))) << 16;
}
void Rtl8139::set16(uint8_t off, uint16_t v) {
  s_.regs[off] = uint8_t(v);
  s_.regs[uint8_t(off + 1)] = uint8_t(v >> 8);
}
void Rtl8139::set32(uint8_t off, uint32_t v) {
  set16(off, uint16_t(v));
  set16(uint8_t(off + 2), uint16_t(v >> 16));
}

// ---- guest accesses ----

void Rtl8139::read(uint64_t offset, std::span<uint8_t> data) {
  // TCTR is computed once per access: one clock read, one consistent value.
  bool timer = offset < kTctr + 4 && offset + data.size() > kTctr;
  uint32_t tctr_value = timer ? tctr(clock_.now_ns()) : 0;
  for (size_t i = 0; i < data.size(); ++i) {
    uint64_t off = offset + i;
    if (off >= kRegisterSpace) {
      data[i] = 0xff;
    } else if (in(uint8_t(off), kTctr, 4)) {
      data[i] = uint8_t(tctr_value >> (8 * (off - kTctr)));
    } else {
      data[i] = read8(uint8_t(off));
    }
  }
}

uint8_t Rtl8139::read8(uint8_t off) {
  if (off == kCr) {
    // BUFE: the normal-mode ring holds no unread packet (CAPR + 16 == CBR).
    bool empty = uint16_t(reg16(kCapr) + 16) == reg16(kCbr);
    return uint8_t((s_.regs[kCr] & ~kCrBufEmpty) | (empty ? kCrBufEmpty : 0));
  }
  if (off == k9346Cr) {
    uint8_t v = s_.regs[k9346Cr] & 0xfe;
    return uint8_t(v | (eeprom_.dout() ? 1 : 0));
  }
  return s_.regs[off];
}

// Bytes are stored one by one; the side effects of a register run once per
// access, after all its bytes are in (a dword TSD write starts one transmit).
void Rtl8139::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset >= kRegisterSpace || data.size() > kRegisterSpace - offset) {
    warn(warn_, "write of " + std::to_string(data.size()) + " bytes at " + hex(offset) +
                    " beyond the register space ignored");
    return;
  }
  write_wide(uint8_t(offset), uint32_t(load_le(data)), data.size());
}

void Rtl8139::write_wide(uint8_t off, uint32_t value, size_t size) {
  bool timer_reset = false, timer_int = false, irq = false;
  int tsd_slot = -1;
  for (size_t i = 0; i < size; ++i) {
    uint8_t o = uint8_t(off + i), v = uint8_t(value >> (8 * i));
    if (in(o, kIsr, 2)) {  // write 1 to clear
      s_.regs[o] &= uint8_t(~v);
      irq = true;
    } else if (in(o, kTctr, 4)) {
      timer_reset = true;  // any write resets the count (datasheet: TCTR)
    } else if (in(o, kMpc, 4)) {
      s_.regs[o] = 0;  // any write clears the missed-packet counter
    } else if (in(o, kTimerInt, 4)) {
      s_.regs[o] = v;
      timer_int = true;
    } else if (in(o, kImr, 2)) {
      s_.regs[o] = v;
      irq = true;
    } else if (in(o, kTsd0, 16)) {
      s_.regs[o] = v;
      if ((o & 3) == 1) tsd_slot = (o - kTsd0) / 4;  // the byte holding OWN
    } else if (in(o, kTcr, 4)) {
      uint32_t keep = kTcrVersion >> (8 * (o - kTcr));
      s_.regs[o] = uint8_t((v & ~keep) | (s_.regs[o] & keep));
    } else if (in(o, kCbr, 2) || in(o, kMsr, 1) || in(o, kBmsr, 2) || in(o, kAnlpar, 2)) {
      // read-only
    } else {
      write8(o, v);
    }
  }
  if (timer_reset) restart_timer();
  if (timer_int) {
    // A new TimerInt counts from the current TCTR: expiries already behind
    // it do not fire again (QEMU rtl8139_set_next_tctr_time).
    uint64_t ticks = ns_to_ticks(clock_.now_ns() - s_.tctr_base_ns, kTimerHz);
    uint32_t ti = reg32(kTimerInt);
    s_.timer_periods = ticks >= ti ? (ticks - ti) / kPeriodTicks + 1 : 0;
  }
  if (tsd_slot >= 0 && !(reg32(uint8_t(kTsd0 + 4 * tsd_slot)) & kTsdOwn)) transmit_slot(tsd_slot);
  if (irq) update_irq();
}

void Rtl8139::write8(uint8_t off, uint8_t v) {
  switch (off) {
    case kCr:
      if (v & kCrReset) {
        reset();
        return;
      }
      s_.regs[kCr] = uint8_t((s_.regs[kCr] & kCrBufEmpty) | (v & (kCrRxEnable | kCrTxEnable)));
      return;
    case k9346Cr:
      eeprom_write(v);
      return;
    case kTxPoll:
      if (v & kTxPollNormal) cplus_transmit();
      return;
    default:
      s_.regs[off] = v;
  }
}

// 9346CR: EEM bits 7:6 select the mode; in programming mode (10b) bits 3-1
// drive EECS, EESK and EEDI and bit 0 reads EEDO. Auto-load (01b) reloads
// the MAC and returns to normal mode.
void Rtl8139::eeprom_write(uint8_t v) {
  uint8_t mode = v >> 6;
  if (mode == 1) {
    std::copy(config_.mac.begin(), config_.mac.end(), s_.regs.begin() + kIdr0);
    s_.regs[k9346Cr] = 0;
    return;
  }
  s_.regs[k9346Cr] = uint8_t(v & 0xfe);
  if (mode == 2) eeprom_.set_pins(v & 0x08, v & 0x04, v & 0x02);
}

std::string Rtl8139::register_name(uint64_t offset) const {
  struct Name {
    uint8_t reg, size;
    const char* name;
  };
  static const Name names[] = {
      {kIdr0, 6, "IDR"},
      {kMar0, 8, "MAR"},
      {kTsd0, 16, "TSD"},
      {kTsad0, 16, "TSAD"},
      {kRbstart, 4, "RBSTART"},
      {kCr, 1, "CR"},
      {kCapr, 2, "CAPR"},
      {kCbr, 2, "CBR"},
      {kImr, 2, "IMR"},
      {kIsr, 2, "ISR"},
      {kTcr, 4, "TCR"},
      {kRcr, 4, "RCR"},
      {kTctr, 4, "TCTR"},
      {kMpc, 4, "MPC"},
      {k9346Cr, 1, "9346CR"},
      {kConfig0, 1, "CONFIG0"},
      {kConfig1, 1, "CONFIG1"},
      {kTimerInt, 4, "TimerInt"},
      {kMsr, 1, "MSR"},
      {kBmcr, 2, "BMCR"},
      {kBmsr, 2, "BMSR"},
      {kTxPoll, 1, "TxPoll"},
      {kRxMaxSize, 2, "RxMaxSize"},
      {kCplusCmd, 2, "C+Cmd"},
      {kIntrMitigate, 2, "IntrMitigate"},
      {kRxRingAddr, 8, "RxRingAddr"},
  };
  for (const Name& n : names)
    if (offset >= n.reg && offset < uint64_t(n.reg) + n.size) return n.name;
  return "";
}

// ---- interrupts and DMA ----

void Rtl8139::raise(uint16_t bits) {
  set16(kIsr, uint16_t(reg16(kIsr) | bits));
  update_irq();
}

void Rtl8139::update_irq() {
  pci_.set_intx((reg16(kIsr) & reg16(kImr)) != 0);
}

bool Rtl8139::dma_allowed() {
  if (pci_.bus_master()) return true;
  if (!s_.warned_bus_master) {
    warn(warn_, "DMA with bus mastering disabled in the PCI Command register: dropped");
    s_.warned_bus_master = true;
  }
  return false;
}

bool Rtl8139::dma_read(uint64_t gpa, std::span<uint8_t> out, const char* what) {
  if (mem_.read(gpa, out)) return true;
  warn(warn_, std::string(what) + " at " + hex(gpa) + " (" + std::to_string(out.size()) +
                  " bytes) is outside guest RAM");
  return false;
}

bool Rtl8139::dma_write(uint64_t gpa, std::span<const uint8_t> in, const char* what) {
  if (mem_.write(gpa, in)) return true;
  warn(warn_, std::string(what) + " at " + hex(gpa) + " (" + std::to_string(in.size()) +
                  " bytes) is outside guest RAM");
  return false;
}

// ---- transmit ----

// Normal mode: TSDn's OWN bit cleared by the driver starts a transmit of
// TSDn[12:0] bytes from TSADn (datasheet 6.2 "Transmit").
void Rtl8139::transmit_slot(int slot) {
  uint8_t tsd = uint8_t(kTsd0 + 4 * slot);
  uint32_t status = reg32(tsd);
  if (!(s_.regs[kCr] & kCrTxEnable) || !dma_allowed()) return;
  std::vector<uint8_t> frame(status & kTsdSizeMask);
  if (!dma_read(reg32(uint8_t(kTsad0 + 4 * slot)), frame, "TX buffer")) {
    set32(tsd, status | kTsdOwn);
    raise(kIsrTxErr);
    return;
  }
  if (tx_) tx_(frame);
  set32(tsd, status | kTsdOwn | kTsdTok);
  raise(kIsrTxOk);
}

// C+ mode TxPoll: sends every frame whose descriptors the driver handed to
// the chip; TxOK once for the batch, no TxDescUnavail when the ring runs dry
// (QEMU rtl8139_cplus_transmit: what NetBSD's re(4) was written against).
void Rtl8139::cplus_transmit() {
  if (!(reg16(kCplusCmd) & kCplusTxEnable) || !(s_.regs[kCr] & kCrTxEnable)) {
    warn(warn_, "TxPoll while C+ transmit is disabled: ignored");
    return;
  }
  if (!dma_allowed()) return;
  std::vector<uint8_t> frame;
  int sent = 0;
  while (sent < kMaxDescriptorsPerPoll && cplus_transmit_one(frame)) ++sent;
  if (sent) raise(kIsrTxOk);
}

bool Rtl8139::cplus_transmit_one(std::vector<uint8_t>& frame) {
  uint64_t ring = uint64_t(reg32(kTsad0)) | uint64_t(reg32(kTsad0 + 4)) << 32;
  uint64_t at = ring + 16ull * s_.cplus_tx_index;
  uint8_t d[16];
  if (!dma_read(at, d, "C+ TX descriptor")) {
    raise(kIsrTxErr | kIsrSystemErr);
    return false;
  }
  uint32_t cmd = uint32_t(load_le({d, 4}));
  if (!(cmd & kDescOwn)) return false;
  uint64_t buf = load_le({d + 8, 8});
  uint32_t len = cmd & kCplusTxLenMask;
  if (cmd & kDescFs) frame.clear();
  bool ok = frame.size() + len <= kMaxFrame;
  if (ok) {
    size_t old = frame.size();
    frame.resize(old + len);
    ok = dma_read(buf, std::span(frame).subspan(old), "C+ TX buffer");
  } else {
    warn(warn_, "C+ TX frame longer than " + std::to_string(kMaxFrame) + " bytes dropped");
  }
  uint8_t done[4];
  store_le(done, cmd & ~kDescOwn);
  dma_write(at, done, "C+ TX descriptor");
  s_.cplus_tx_index = (cmd & kDescEor) ? 0 : (s_.cplus_tx_index + 1) % 1024;
  if (!ok) {
    frame.clear();
    raise(kIsrTxErr);
    return true;
  }
  if (cmd & kDescLs) {
    if (tx_) tx_(frame);
    frame.clear();
  }
  return true;
}

// ---- receive ----

bool Rtl8139::accepts(std::span<const uint8_t> f) const {
  uint8_t rcr = s_.regs[kRcr];
  if (f.size() < 14) return false;
  if (rcr & kRcrAcceptAll) return true;
  bool bcast = std::all_of(f.begin(), f.begin() + 6, [](uint8_t b) { return b == 0xff; });
  if (bcast) return rcr & kRcrBroadcast;
  if (f[0] & 1) {  // multicast: bit (CRC-32 of the address >> 26) of MAR0-7
    if (!(rcr & kRcrMulticast)) return false;
    uint32_t crc = ~ethernet_crc32(f.first(6));
    uint32_t bit = 0;  // the hash uses the CRC's top 6 bits in big-endian bit order
    for (int k = 0; k < 32; ++k) bit |= ((crc >> k) & 1) << (31 - k);
    bit >>= 26;
    return s_.regs[kMar0 + bit / 8] & (1 << (bit % 8));
  }
  return (rcr & kRcrPhysMatch) && std::equal(f.begin(), f.begin() + 6, s_.regs.begin() + kIdr0);
}

bool Rtl8139::receive(std::span<const uint8_t> frame) {
  if (!rx_enabled() || !accepts(frame) || frame.size() > kMaxFrame) return false;
  if (!dma_allowed()) return false;
  bool cplus = reg16(kCplusCmd) & kCplusRxEnable;
  bool ok = cplus ? receive_cplus(frame) : receive_ring(frame);
  if (!ok) set32(kMpc, std::min<uint32_t>(reg32(kMpc) + 1, 0xffffff));
  return ok;
}

static std::vector<uint8_t> with_fcs(std::span<const uint8_t> frame) {
  std::vector<uint8_t> out(frame.begin(), frame.end());
  uint32_t fcs = ethernet_crc32(frame);
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(fcs >> (8 * i)));
  return out;
}

// C+ RX: the next descriptor the driver owns receives the frame and its FCS
// (datasheet 9.3; the length written back includes the 4 CRC bytes).
bool Rtl8139::receive_cplus(std::span<const uint8_t> frame) {
  uint64_t ring = load_le(std::span(s_.regs).subspan(kRxRingAddr, 8));
  uint64_t at = ring + 16ull * s_.cplus_rx_index;
  uint8_t d[16];
  if (!dma_read(at, d, "C+ RX descriptor")) {
    raise(kIsrRxErr | kIsrSystemErr);
    return false;
  }
  uint32_t cmd = uint32_t(load_le({d, 4}));
  if (!(cmd & kDescOwn)) {
    raise(kIsrRxOverflow);  // RX descriptor unavailable
    return false;
  }
  std::vector<uint8_t> bytes = with_fcs(frame);
  if (bytes.size() > (cmd & kCplusRxLenMask)) {
    warn(warn_, "C+ RX buffer of " + std::to_string(cmd & kCplusRxLenMask) +
                    " bytes too small for a " + std::to_string(bytes.size()) + "-byte frame");
    raise(kIsrRxErr);
    return false;
  }
  if (!dma_write(load_le({d + 8, 8}), bytes, "C+ RX buffer")) {
    raise(kIsrRxErr | kIsrSystemErr);
    return false;
  }
  uint8_t back[8] = {};
  store_le({back, 4}, (cmd & kDescEor) | kDescFs | kDescLs | uint32_t(bytes.size()));
  dma_write(at, back, "C+ RX descriptor");
  s_.cplus_rx_index = (cmd & kDescEor) ? 0 : (s_.cplus_rx_index + 1) % 1024;
  raise(kIsrRxOk);
  return true;
}

// Normal mode: a 4-byte header (status, length incl. FCS), the frame and its
// FCS at CBR in the ring at RBSTART, dword aligned (datasheet 6.1).
bool Rtl8139::receive_ring(std::span<const uint8_t> frame) {
  uint32_t size = 8192u << ((s_.regs[kRcr + 1] >> 3) & 3);
  std::vector<uint8_t> bytes = with_fcs(frame);
  uint16_t status = kRxStatusOk;
  if (std::all_of(frame.begin(), frame.begin() + 6, [](uint8_t b) { return b == 0xff; }))
    status |= kRxStatusBroadcast;
  else if (frame[0] & 1)
    status |= kRxStatusMulticast;
  else
    status |= kRxStatusPhysical;
  uint8_t header[4] = {uint8_t(status), uint8_t(status >> 8), uint8_t(bytes.size()),
                       uint8_t(bytes.size() >> 8)};
  bytes.insert(bytes.begin(), header, header + 4);
  uint32_t cbr = reg16(kCbr) % size, read_at = uint16_t(reg16(kCapr) + 16) % size;
  uint32_t used = (cbr + size - read_at) % size;
  uint32_t total = (uint32_t(bytes.size()) + 3) & ~3u;
  if (used + total >= size) {
    raise(kIsrRxOverflow);
    return false;
  }
  uint32_t base = reg32(kRbstart);
  bool wrap_over_end = s_.regs[kRcr] & kRcrWrap;  // WRAP: the buffer has slack past the end
  uint32_t first = wrap_over_end ? uint32_t(bytes.size())
                                 : std::min<uint32_t>(uint32_t(bytes.size()), size - cbr);
  bool ok = dma_write(base + uint64_t(cbr), std::span(bytes).first(first), "RX ring");
  if (ok && first < bytes.size()) ok = dma_write(base, std::span(bytes).subspan(first), "RX ring");
  if (!ok) {
    raise(kIsrRxErr | kIsrSystemErr);
    return false;
  }
  set16(kCbr, uint16_t((cbr + total) % size));
  raise(kIsrRxOk);
  return true;
}

// ---- the onboard timer ----

uint32_t Rtl8139::tctr(uint64_t now_ns) const {
  if (!config_.timer_enabled) return 0;
  return uint32_t(ns_to_ticks(now_ns - std::min(now_ns, s_.tctr_base_ns), kTimerHz));
}

void Rtl8139::restart_timer() {
  s_.tctr_base_ns = clock_.now_ns();
  s_.timer_periods = 0;
}

// Expiry k (k >= 0) is when TCTR, counting from its last reset, reaches
// TimerInt for the (k+1)-th time: TimerInt + k * 2^32 ticks.
uint64_t Rtl8139::timer_deadline() const {
  uint64_t ticks = reg32(kTimerInt) + s_.timer_periods * kPeriodTicks;
  return s_.tctr_base_ns + ticks_to_ns(ticks, kTimerHz);
}

std::optional<uint64_t> Rtl8139::next_deadline_ns() const {
  if (!config_.timer_enabled || reg32(kTimerInt) == 0) return std::nullopt;
  return timer_deadline();
}

void Rtl8139::advance(uint64_t now_ns) {
  if (!next_deadline_ns()) return;
  bool fired = false;
  while (now_ns >= timer_deadline()) {
    ++s_.timer_periods;
    fired = true;
  }
  if (fired) raise(kIsrTimeOut);
}

Rtl8139::State Rtl8139::save() const {
  State s = s_;
  s.eeprom = eeprom_.save();
  return s;
}

void Rtl8139::restore(const State& s) {
  s_ = s;
  eeprom_.restore(s.eeprom);
  update_irq();
}

}  // namespace rrvm
