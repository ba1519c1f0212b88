#include "devices/rtl8139.h"

#include <algorithm>

#include "devices/hex.h"

namespace rrvm {

namespace {

// TSD0-3: OWN (13) the host owns the slot, TOK (15) sent, TABT (30) aborted.
constexpr uint32_t kTsdOwn = 1u << 13, kTsdTok = 1u << 15, kTsdTabt = 1u << 30;
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
  reset(/*power_on=*/true);
}

// Default values (datasheet table 6). Power-on and the 9346CR auto-load take
// the MAC from the EEPROM; a software reset (CR.RST) leaves IDR0-5 and
// MAR0-7 as they are ("will have no changes", CR bit 4).
void Rtl8139::reset(bool power_on) {
  std::array<uint8_t, 16> keep;  // IDR0-5, two reserved bytes, MAR0-7
  std::copy_n(s_.regs.begin() + kIdr0, keep.size(), keep.begin());
  s_.regs.fill(0);
  if (power_on)
    std::copy(config_.mac.begin(), config_.mac.end(), s_.regs.begin() + kIdr0);
  else
    std::copy(keep.begin(), keep.end(), s_.regs.begin() + kIdr0);
  for (int i = 0; i < 4; ++i) set32(uint8_t(kTsd0 + 4 * i), kTsdOwn);  // the host owns them
  set32(kTcr, kTcrVersion);
  s_.regs[kCr] = kCrBufEmpty;
  set16(kCapr, 0xfff0);      // CAPR + 16 == CBR: the ring is empty
  s_.regs[kConfig1] = 0x0c;  // I/O and memory mapped registers
  set16(kBmcr, 0x3100);      // 100 Mb/s, autonegotiation on, full duplex
  set16(kBmsr, 0x782d);      // link up, autonegotiation complete
  set16(kAnar, 0x05e1);
  set16(kAnlpar, 0x05e1);
  set16(kCscr, 0x0340);  // LD, HEART_BIT, F_LINK_100: QEMU's reset value
  set16(kRxMaxSize, 0x0800);
  // MSR (0x58) stays 0: LINKB = 0 is "link ok", SPEED_10 = 0 is 100 Mb/s.
  s_.cplus_tx_index = s_.cplus_rx_index = 0;
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

// Drivers use byte, word and dword accesses at natural alignment. Anything
// else reaches the chip as the bus splits it, byte by byte here; say so.
void Rtl8139::check_access(const char* what, uint64_t offset, size_t size) {
  bool natural = (size == 1 || size == 2 || size == 4) && offset % size == 0;
  if (!natural)
    warn(warn_, std::string(what) + " of " + std::to_string(size) + " bytes at " + hex(offset) +
                    " is not a naturally aligned byte/word/dword access: done byte by byte");
}

void Rtl8139::read(uint64_t offset, std::span<uint8_t> data) {
  check_access("read", offset, data.size());
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
    return uint8_t(v | ((v >> 6) == 2 && eeprom_.dout() ? 1 : 0));
  }
  if (in(off, kTsadSummary, 2)) {
    // TSAD: TOK3-0 (15:12), TUN3-0 (11:8), TABT3-0 (7:4), OWN3-0 (3:0).
    uint16_t v = 0;
    for (int i = 0; i < 4; ++i) {
      uint32_t tsd = reg32(uint8_t(kTsd0 + 4 * i));
      v |= uint16_t(((tsd >> 15) & 1) << (12 + i) | ((tsd >> 14) & 1) << (8 + i) |
                    ((tsd >> 30) & 1) << (4 + i) | ((tsd >> 13) & 1) << i);
    }
    return uint8_t(v >> (8 * (off - kTsadSummary)));
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
  check_access("write", offset, data.size());
  WriteEffects fx;
  for (size_t i = 0; i < data.size(); ++i) write_byte(uint8_t(offset + i), data[i], fx);
  apply(fx);
}

void Rtl8139::write_byte(uint8_t o, uint8_t v, WriteEffects& fx) {
  if (in(o, kIsr, 2)) {  // write 1 to clear
    s_.regs[o] &= uint8_t(~v);
    fx.irq = true;
  } else if (in(o, kTctr, 4)) {
    fx.timer_reset = true;  // any write resets the count (datasheet: TCTR)
  } else if (in(o, kMpc, 4)) {
    s_.regs[o] = 0;  // any write clears the missed-packet counter
  } else if (in(o, kTimerInt, 4)) {
    s_.regs[o] = v;
    fx.timer_int = true;
  } else if (in(o, kImr, 2)) {
    s_.regs[o] = v;
    fx.irq = true;
  } else if (in(o, kTsd0, 16)) {
    s_.regs[o] = v;
    if ((o & 3) == 1) fx.tsd_slot = (o - kTsd0) / 4;  // the byte holding OWN
  } else if (in(o, kTcr, 4)) {
    uint32_t keep = kTcrVersion >> (8 * (o - kTcr));
    s_.regs[o] = uint8_t((v & ~keep) | (s_.regs[o] & keep));
  } else if (in(o, kBmcr + 1, 1)) {
    s_.regs[o] = v & 0x7d;  // reset (15) and restart autonegotiation (9) self-clear
  } else if (in(o, kIdr0, 6) || in(o, kConfig0, 2) || in(o, kConfig3, 2)) {
    write_protected(o, v);
  } else if (in(o, kCbr, 2) || in(o, kMsr, 1) || in(o, kBmsr, 2) || in(o, kAnlpar, 2) ||
             in(o, kTsadSummary, 2)) {
    // read-only
  } else if (o == kCr) {
    write_command(v);
  } else if (o == k9346Cr) {
    eeprom_write(v);
  } else if (o == kTxPoll) {
    fx.tx_poll = fx.tx_poll || (v & kTxPollNormal);  // reads back 0: the bit self-clears
  } else {
    s_.regs[o] = v;
  }
}

void Rtl8139::apply(const WriteEffects& fx) {
  if (fx.timer_reset) restart_timer();
  if (fx.timer_int) {
    // A new TimerInt counts from the current TCTR: expiries already behind
    // it do not fire again (QEMU rtl8139_set_next_tctr_time).
    s_.timer_periods = expiries_by(clock_.now_ns());
  }
  if (fx.tsd_slot >= 0 && !(reg32(uint8_t(kTsd0 + 4 * fx.tsd_slot)) & kTsdOwn))
    transmit_slot(fx.tsd_slot);
  if (fx.tx_poll) cplus_transmit();
  if (fx.irq) update_irq();
}

// CR: RST (4) resets and reads back 0 at once; enabling RE (3) / TE (2)
// restarts the C+ RX / TX rings at their first descriptor (QEMU
// rtl8139_ChipCmd_write does it on every write with the bit set; only the
// 0 -> 1 edge here, so a driver rewriting CR mid-ring loses nothing).
void Rtl8139::write_command(uint8_t v) {
  if (v & kCrReset) {
    reset(/*power_on=*/false);
    return;
  }
  uint8_t was = s_.regs[kCr];
  if ((v & kCrRxEnable) && !(was & kCrRxEnable)) s_.cplus_rx_index = 0;
  if ((v & kCrTxEnable) && !(was & kCrTxEnable)) s_.cplus_tx_index = 0;
  s_.regs[kCr] = uint8_t((was & kCrBufEmpty) | (v & (kCrRxEnable | kCrTxEnable)));
}

// IDR0-5 and CONFIG0/1/3/4 take writes only while 9346CR selects
// config-register write enable (EEM1:0 = 11), as re(4) and 8139too do.
bool Rtl8139::config_unlocked() const {
  return (s_.regs[k9346Cr] >> 6) == 3;
}

void Rtl8139::write_protected(uint8_t off, uint8_t v) {
  if (!config_unlocked()) {
    warn(warn_, register_name(off) + " write while 9346CR is locked: ignored");
    return;
  }
  s_.regs[off] = v;
}

// 9346CR: EEM bits 7:6 select the mode; in programming mode (10b) bits 3-1
// drive EECS, EESK and EEDI and bit 0 reads EEDO. Auto-load (01b) reloads
// the EEPROM, resets the registers and returns to normal mode (datasheet
// 9346CR: "all of the other registers are reset to default values").
void Rtl8139::eeprom_write(uint8_t v) {
  uint8_t mode = v >> 6;
  if (mode == 1) {
    reset(/*power_on=*/true);
    s_.regs[k9346Cr] = 0;
    return;
  }
  s_.regs[k9346Cr] = uint8_t(v & 0xfe);
  // Outside programming mode the chip holds EECS low.
  if (mode == 2)
    eeprom_.set_pins(v & 0x08, v & 0x04, v & 0x02);
  else
    eeprom_.set_pins(false, false, false);
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
      {kConfig3, 1, "CONFIG3"},
      {kConfig4, 1, "CONFIG4"},
      {kMulInt, 2, "MULINT"},
      {kTsadSummary, 2, "TSAD"},
      {kBmcr, 2, "BMCR"},
      {kBmsr, 2, "BMSR"},
      {kAnar, 2, "ANAR"},
      {kAnlpar, 2, "ANLPAR"},
      {kCscr, 2, "CSCR"},
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
// TSDn[12:0] bytes from TSADn (datasheet 6.2 "Transmit"). A size over 0x700
// or a buffer outside RAM aborts the slot (TABT, TxErr).
void Rtl8139::transmit_slot(int slot) {
  uint8_t tsd = uint8_t(kTsd0 + 4 * slot);
  uint32_t status = reg32(tsd);
  if (!(s_.regs[kCr] & kCrTxEnable)) {
    warn(warn_, "TSD" + std::to_string(slot) + " handed over while the transmitter is off");
    return;
  }
  if (!dma_allowed()) return;
  size_t size = status & kTsdSizeMask;
  std::vector<uint8_t> frame(std::min(size, kMaxTxFrame));
  bool ok = size > 0 && size <= kMaxTxFrame;
  if (!ok)
    warn(warn_, "TSD" + std::to_string(slot) + " size " + std::to_string(size) + " outside 1.." +
                    std::to_string(kMaxTxFrame) + ": aborted");
  else if (!dma_read(reg32(uint8_t(kTsad0 + 4 * slot)), frame, "TX buffer"))
    ok = false;
  if (!ok) {
    set32(tsd, status | kTsdOwn | kTsdTabt);
    raise(kIsrTxErr);
    return;
  }
  if (tx_) tx_(frame);
  set32(tsd, status | kTsdOwn | kTsdTok);
  raise(kIsrTxOk);
}

// C+ mode TxPoll: sends every frame whose descriptors the driver handed to
// the chip, FS..LS gathered into one frame; TxOK once for the batch (even
// when IMR masks it: ISR always latches). When the ring reaches a descriptor
// the chip does not own it stops without TxDescUnavail: that is what QEMU's
// rtl8139_cplus_transmit does (kvm-84 and today), and what the seed depends
// on -- re(4) reaps TX descriptors whenever it sees TxDescUnavail in ISR, so
// raising it on every drained ring would hide the missing timer.
void Rtl8139::cplus_transmit() {
  if (!(reg16(kCplusCmd) & kCplusTxEnable) || !(s_.regs[kCr] & kCrTxEnable)) {
    warn(warn_, "TxPoll while C+ transmit is disabled: ignored");
    return;
  }
  if (!dma_allowed()) return;
  std::vector<uint8_t> frame;
  bool broken = false;  // a fragment of the current frame failed: drop until LS
  int sent = 0, seen = 0;
  while (seen < kMaxDescriptorsPerPoll && cplus_transmit_one(frame, broken, sent)) ++seen;
  if (sent) raise(kIsrTxOk);
}

// One descriptor: false when the ring stops here (not ours, or unreadable).
bool Rtl8139::cplus_transmit_one(std::vector<uint8_t>& frame, bool& broken, int& sent) {
  uint64_t ring = uint64_t(reg32(kTsad0)) | uint64_t(reg32(kTsad0 + 4)) << 32;
  uint64_t at = ring + 16ull * s_.cplus_tx_index;
  uint8_t d[16];
  if (!dma_read(at, d, "C+ TX descriptor")) {
    raise(kIsrTxErr | kIsrSystemErr);
    return false;
  }
  uint32_t cmd = uint32_t(load_le({d, 4}));
  if (!(cmd & kDescOwn)) return false;
  if (cmd & kDescFs) {
    frame.clear();
    broken = false;
  }
  if (!broken) broken = !cplus_gather(frame, cmd & kCplusTxLenMask, load_le({d + 8, 8}));
  uint8_t done[4];
  store_le(done, cmd & ~kDescOwn);
  dma_write(at, done, "C+ TX descriptor");  // readable a moment ago: cannot fail
  s_.cplus_tx_index = (cmd & kDescEor) ? 0 : (s_.cplus_tx_index + 1) % kMaxRingEntries;
  if (!(cmd & kDescLs)) return true;
  if (!broken && frame.empty()) {
    warn(warn_, "C+ TX frame of 0 bytes: not sent");
    broken = true;
    raise(kIsrTxErr);
  }
  if (!broken && tx_) tx_(frame);
  sent += !broken;
  frame.clear();
  broken = false;
  return true;
}

// Appends one fragment; false (TxErr raised) when it is unusable.
bool Rtl8139::cplus_gather(std::vector<uint8_t>& frame, uint32_t len, uint64_t buf) {
  if (frame.size() + len > kMaxTxFrame) {
    warn(warn_, "C+ TX frame longer than " + std::to_string(kMaxTxFrame) + " bytes dropped");
    raise(kIsrTxErr);
    return false;
  }
  size_t old = frame.size();
  frame.resize(old + len);
  if (dma_read(buf, std::span(frame).subspan(old), "C+ TX buffer")) return true;
  raise(kIsrTxErr | kIsrSystemErr);
  return false;
}

// ---- receive ----

namespace {

bool is_broadcast(std::span<const uint8_t> f) {
  return std::all_of(f.begin(), f.begin() + 6, [](uint8_t b) { return b == 0xff; });
}

// The multicast hash: the top 6 bits of the big-endian CRC-32 of the
// destination select one of the 64 bits of MAR0-7 (as Linux 8139too and
// NetBSD rtk compute ether_crc32_be(addr) >> 26).
unsigned multicast_hash(std::span<const uint8_t> dest) {
  uint32_t crc = 0xffffffff;
  for (uint8_t b : dest)
    for (int k = 0; k < 8; ++k, b >>= 1)
      crc = (crc << 1) ^ (((crc >> 31) ^ (b & 1)) ? 0x04c11db7u : 0u);
  return crc >> 26;
}

std::vector<uint8_t> with_fcs(std::span<const uint8_t> frame) {
  std::vector<uint8_t> out(frame.begin(), frame.end());
  uint32_t fcs = ethernet_crc32(frame);
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(fcs >> (8 * i)));
  return out;
}

}  // namespace

// RCR: AAP (0) all physical, APM (1) our address, AM (2) multicast through
// MAR0-7, AB (3) broadcast (datasheet, Receive Configuration Register).
bool Rtl8139::accepts(std::span<const uint8_t> f) const {
  uint8_t rcr = s_.regs[kRcr];
  if (f.size() < 14) return false;
  if (rcr & kRcrAcceptAll) return true;
  if (is_broadcast(f)) return rcr & kRcrBroadcast;
  if (f[0] & 1) {
    unsigned bit = multicast_hash(f.first(6));
    return (rcr & kRcrMulticast) && (s_.regs[kMar0 + bit / 8] & (1 << (bit % 8)));
  }
  return (rcr & kRcrPhysMatch) && std::equal(f.begin(), f.begin() + 6, s_.regs.begin() + kIdr0);
}

bool Rtl8139::receive(std::span<const uint8_t> frame) {
  if (!rx_enabled() || frame.size() > kMaxRxFrame || !accepts(frame)) return false;
  if (!dma_allowed()) return false;
  bool cplus = reg16(kCplusCmd) & kCplusRxEnable;
  bool ok = cplus ? receive_cplus(frame) : receive_ring(frame);
  if (!ok) set32(kMpc, std::min<uint32_t>(reg32(kMpc) + 1, 0xffffff));  // 24 bits
  return ok;
}

// C+ RX: the next descriptor the driver owns receives the frame and its FCS
// (datasheet 9.3; the length written back includes the 4 CRC bytes). A
// descriptor the chip does not own is "RX descriptor unavailable" (ISR 4).
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
    raise(kIsrRxOverflow);
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
  uint8_t back[8] = {};  // dword 1 (VLAN tag) reads 0: no tag stripped
  store_le({back, 4}, (cmd & kDescEor) | kDescFs | kDescLs | uint32_t(bytes.size()));
  dma_write(at, back, "C+ RX descriptor");
  s_.cplus_rx_index = (cmd & kDescEor) ? 0 : (s_.cplus_rx_index + 1) % kMaxRingEntries;
  raise(kIsrRxOk);
  return true;
}

// Normal mode: a 4-byte header (status, length incl. FCS), the frame and its
// FCS at CBR in the ring at RBSTART, dword aligned (datasheet 6.1). With
// WRAP set the packet runs on past the end of the ring into the slack the
// driver allocated (not for the 64K ring, which has only 16 bytes of it).
bool Rtl8139::receive_ring(std::span<const uint8_t> frame) {
  uint32_t rblen = (s_.regs[kRcr + 1] >> 3) & 3, size = 8192u << rblen;
  std::vector<uint8_t> bytes = with_fcs(frame);
  uint16_t status = kRxStatusOk | (is_broadcast(frame) ? kRxStatusBroadcast
                                   : (frame[0] & 1)    ? kRxStatusMulticast
                                                       : kRxStatusPhysical);
  uint32_t length = uint32_t(bytes.size());
  uint8_t header[4] = {uint8_t(status), uint8_t(status >> 8), uint8_t(length),
                       uint8_t(length >> 8)};
  bytes.insert(bytes.begin(), header, header + 4);
  uint32_t cbr = reg16(kCbr) % size, read_at = uint16_t(reg16(kCapr) + 16) % size;
  uint32_t used = (cbr + size - read_at) % size;
  uint32_t total = (uint32_t(bytes.size()) + 3) & ~3u;
  if (used + total >= size) {
    raise(kIsrRxOverflow);
    return false;
  }
  uint64_t base = reg32(kRbstart);
  bool run_on = (s_.regs[kRcr] & kRcrWrap) && rblen != 3;
  uint32_t first = run_on ? uint32_t(bytes.size()) : std::min(uint32_t(bytes.size()), size - cbr);
  bool ok = dma_write(base + cbr, std::span(bytes).first(first), "RX ring");
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

// TCTR counts PCI clocks (33 MHz) since its last reset, computed from the
// Clock on each read. With the timer off it reads 0: kvm-84's QEMU (built
// without RTL8139_ONBOARD_TIMER) returned s->TCTR, which only the disabled
// rtl8139_timer() ever updated; a TCTR write set it to 0 again and TimerInt
// was stored and read back but never compared.
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

// How many expiries have happened by `now_ns` (TimerInt nonzero).
uint64_t Rtl8139::expiries_by(uint64_t now_ns) const {
  uint64_t ticks = ns_to_ticks(now_ns - std::min(now_ns, s_.tctr_base_ns), kTimerHz);
  uint32_t ti = reg32(kTimerInt);
  return ticks >= ti ? (ticks - ti) / kPeriodTicks + 1 : 0;
}

std::optional<uint64_t> Rtl8139::next_deadline_ns() const {
  if (!config_.timer_enabled || reg32(kTimerInt) == 0) return std::nullopt;
  return timer_deadline();
}

// TimeOut (ISR 14) once however many expiries passed: ISR is a latch.
void Rtl8139::advance(uint64_t now_ns) {
  if (!next_deadline_ns() || now_ns < timer_deadline()) return;
  s_.timer_periods = std::max(s_.timer_periods + 1, expiries_by(now_ns));
  raise(kIsrTimeOut);
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
