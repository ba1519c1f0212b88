// Every device model rewound in place, as a machine checkpoint does it:
// drive the device at random, save; drive it on, recording all it shows
// (register reads, interrupt lines, timer deadlines, output, DMA); restore
// the same instance and drive it the same way again: it must show the
// same and end in the same State. (The SaveRestoreRoundTrip tests restore
// into a fresh instance; this catches state kept outside State and
// restores that are not exact.) The interrupt arbiter has no state of its
// own: its rig is the PIC and LAPIC behind it.
#include <gtest/gtest.h>

#include <random>
#include <utility>

#include "devices/acpi_pm.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/hpet.h"
#include "devices/interrupt_arbiter.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pc_testdev.h"
#include "devices/pci_host.h"
#include "devices/pci_irq_router.h"
#include "devices/pic.h"
#include "devices/piix_isa.h"
#include "devices/pit.h"
#include "devices/post_port.h"
#include "devices/rtc.h"
#include "devices/rtl8139.h"
#include "devices/uart16550.h"
#include "vmm/state_fields.h"

namespace rrvm {
namespace {

using Log = std::vector<uint64_t>;

// Guest time that a restore can move back.
struct TestClock final : Clock {
  uint64_t now_ns() override { return now; }
  uint64_t now = 0;
};

// An interrupt line that logs every level it is driven to, into whatever
// log its rig is writing (`*log`).
struct LoggedLine final : IrqLine {
  explicit LoggedLine(Log** where) : log(where) {}
  void set_level(bool high) override { (*log)->push_back(0x1000 + high); }
  Log** log;
};

// A device's State with what else a rewind must put back (its clock, its
// memory): an aggregate, so state_fields can compare it.
template <class A, class B>
struct Two {
  A first;
  B second;
};

template <class State>
std::vector<uint8_t> bytes_of(const State& s) {
  std::vector<uint8_t> out;
  state_fields::encode(s, out);
  return out;
}

// A random guest access to an I/O view: naturally aligned, 1, 2 or 4
// bytes; reads are logged.
void poke(IoDevice& dev, uint64_t size, std::mt19937& rng, Log& log) {
  std::vector<uint8_t> data(size_t{1} << (rng() % 3), 0);
  uint64_t offset = rng() % size & ~uint64_t{data.size() - 1};
  if (rng() % 2) {
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    dev.write(offset, data);
  } else {
    dev.read(offset, data);
    log.push_back(load_le(data));
  }
}

void tick(TimedDevice& dev, TestClock& clock, std::mt19937& rng, Log& log) {
  clock.now += rng() % 3'000'000;
  dev.advance(clock.now);
  log.push_back(dev.next_deadline_ns().value_or(~0ull));
}

// Runs `ops` random steps, saves, runs `ops` more logging them, restores
// and runs the same `ops` again: the two logs and end states must agree.
template <class Rig>
void expect_rewind_repeats_once(uint32_t seed, int ops) {
  Rig rig;
  std::mt19937 rng(seed);
  Log ignored;
  rig.log = &ignored;
  for (int i = 0; i < ops; ++i) rig.step(rng);
  auto saved = rig.save();
  std::mt19937 again_rng = rng;
  Log first, again;
  rig.log = &first;
  for (int i = 0; i < ops; ++i) rig.step(rng);
  auto end = bytes_of(rig.save());
  rig.log = &ignored;  // what a restore drives (a NIC's INTx) is not a step's
  rig.restore(saved);
  rig.log = &again;
  for (int i = 0; i < ops; ++i) rig.step(again_rng);
  EXPECT_FALSE(first.empty());
  EXPECT_TRUE(again == first) << "seed " << seed << ": the rewound device behaved differently ("
                              << first.size() << " vs " << again.size() << " events)";
  EXPECT_TRUE(bytes_of(rig.save()) == end) << "seed " << seed << ": different end state";
}

template <class Rig>
void expect_rewind_repeats(int ops = 3000) {
  for (uint32_t seed : {1u, 2u, 3u}) expect_rewind_repeats_once<Rig>(seed, ops);
}

// `N` lines logging into `*where`, and the plain pointers devices take.
template <size_t N>
std::array<LoggedLine, N> logged_lines(Log** where) {
  return [&]<size_t... I>(std::index_sequence<I...>) {
    return std::array<LoggedLine, N>{((void)I, LoggedLine(where))...};
  }
  (std::make_index_sequence<N>());
}
template <size_t N>
std::array<IrqLine*, N> pointers(std::array<LoggedLine, N>& lines) {
  std::array<IrqLine*, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = &lines[i];
  return out;
}

struct PicRig {
  PicPair pic;
  Log* log = nullptr;
  void step(std::mt19937& rng) {
    switch (rng() % 6) {
      case 0:
        pic.irq(static_cast<int>(rng() % 16)).set_level(rng() % 2);
        break;
      case 1:
        log->push_back(pic.acknowledge().value_or(0xfff));
        break;
      case 2:
        poke(pic.elcr_io(), 2, rng, *log);
        break;
      case 3:
        poke(pic.slave_io(), 2, rng, *log);
        break;
      default:
        poke(pic.master_io(), 2, rng, *log);
    }
  }
  PicPair::State save() { return pic.save(); }
  void restore(const PicPair::State& s) { pic.restore(s); }
};

struct PitRig {
  TestClock clock;
  LoggedLine irq0{&log};
  Pit8254 pit{clock, irq0};
  Log* log = nullptr;
  void step(std::mt19937& rng) {
    switch (rng() % 4) {
      case 0:
        tick(pit, clock, rng, *log);
        break;
      case 1:
        poke(pit.port61(), 1, rng, *log);
        break;
      default:
        poke(pit, 4, rng, *log);
    }
  }
  Two<Pit8254::State, uint64_t> save() { return {pit.save(), clock.now}; }
  void restore(const Two<Pit8254::State, uint64_t>& s) {
    pit.restore(s.first);
    clock.now = s.second;
  }
};

struct RtcRig {
  TestClock clock;
  LoggedLine irq8{&log};
  Rtc146818 rtc{clock, irq8, 1230768000};
  Log* log = nullptr;
  void step(std::mt19937& rng) {
    if (rng() % 4 == 0) {
      tick(rtc, clock, rng, *log);
    } else {
      poke(rtc, 2, rng, *log);
    }
  }
  Two<Rtc146818::State, uint64_t> save() { return {rtc.save(), clock.now}; }
  void restore(const Two<Rtc146818::State, uint64_t>& s) {
    rtc.restore(s.first);
    clock.now = s.second;
  }
};

// The HPET: its registers at the widths guests use (comparators small
// enough to match within the run), the PIT and RTC lines it passes on,
// time; every line it drives is logged.
struct HpetRig {
  TestClock clock;
  LoggedLine irq0{&log}, irq8{&log};
  std::array<LoggedLine, 4> pins = logged_lines<4>(&log);
  Hpet hpet{clock, wiring()};
  Log* log = nullptr;
  Hpet::Wiring wiring() {
    Hpet::Wiring w;
    w.irq0 = &irq0;
    w.irq8 = &irq8;
    for (int i = 0; i < 4; ++i) w.ioapic[20 + i] = &pins[i];
    return w;
  }
  void step(std::mt19937& rng) {
    switch (rng() % 6) {
      case 0:
        tick(hpet, clock, rng, *log);
        break;
      case 1:
        (rng() % 2 ? hpet.pit_input() : hpet.rtc_input()).set_level(rng() % 2);
        break;
      default:
        poke_register(rng);
    }
  }
  void poke_register(std::mt19937& rng) {
    constexpr std::array<uint64_t, 8> kRegs = {
        Hpet::kGenConf,        Hpet::kGintrSta,       Hpet::kMainCnt,        Hpet::timer_reg(0, 0),
        Hpet::timer_reg(0, 8), Hpet::timer_reg(1, 0), Hpet::timer_reg(1, 8), Hpet::timer_reg(2, 8)};
    uint8_t b[8];
    size_t size = rng() % 2 ? 8 : 4;
    uint64_t reg = kRegs[rng() % kRegs.size()] + (size == 4 && rng() % 4 == 0 ? 4 : 0);
    if (rng() % 2) {
      uint64_t v = reg == Hpet::kGenConf ? rng() % 4 : rng() % (1u << 22);
      if (reg == Hpet::timer_reg(0, 0) || reg == Hpet::timer_reg(1, 0)) v |= (20 + rng() % 4) << 9;
      store_le({b, size}, v);
      hpet.write(reg, {b, size});
    } else {
      hpet.read(reg, {b, size});
      log->push_back(load_le({b, size}));
    }
  }
  Two<Hpet::State, uint64_t> save() { return {hpet.save(), clock.now}; }
  void restore(const Two<Hpet::State, uint64_t>& s) {
    hpet.restore(s.first);
    clock.now = s.second;
  }
};

struct LoggedSink final : CharSink {
  explicit LoggedSink(Log** where) : log(where) {}
  void write(uint8_t b) override { (*log)->push_back(0x2000 + b); }
  Log** log;
};

struct UartRig {
  LoggedSink out{&log};
  LoggedLine irq{&log};
  Uart16550 uart{out, irq};
  Log* log = nullptr;
  void step(std::mt19937& rng) {
    if (rng() % 5 == 0) {
      std::vector<uint8_t> bytes(rng() % 20, static_cast<uint8_t>(rng()));
      log->push_back(uart.receive(bytes));
    } else {
      poke(uart, 8, rng, *log);
    }
  }
  Uart16550::State save() { return uart.save(); }
  void restore(const Uart16550::State& s) { uart.restore(s); }
};

// The CPU side of the IOAPIC: accepts every message and logs it.
struct LoggedApic final : ApicMessageSink {
  explicit LoggedApic(Log** where) : log(where) {}
  bool is_destination(uint8_t, bool) const override { return true; }
  bool accept_interrupt(uint8_t vector, bool level) override {
    (*log)->push_back(0x3000 + vector + (level ? 0x100 : 0));
    return true;
  }
  void accept_nmi() override { (*log)->push_back(0x4000); }
  Log** log;
};

struct IoapicRig {
  LoggedApic cpu{&log};
  Ioapic ioapic{cpu, 1};
  Log* log = nullptr;
  void step(std::mt19937& rng) {
    switch (rng() % 5) {
      case 0:
        ioapic.irq(static_cast<int>(rng() % Ioapic::kPins)).set_level(rng() % 2);
        break;
      case 1:
        ioapic.eoi(static_cast<uint8_t>(rng()));
        break;
      default: {
        // IOREGSEL at 0x00, IOWIN at 0x10, dwords.
        uint8_t v[4];
        store_le(v, rng() % 2 ? rng() % 0x40 : rng());
        uint64_t reg = rng() % 2 ? 0x00 : 0x10;
        if (rng() % 2) {
          ioapic.write(reg, v);
        } else {
          ioapic.read(reg, v);
          log->push_back(load_le(v));
        }
      }
    }
  }
  Ioapic::State save() { return ioapic.save(); }
  void restore(const Ioapic::State& s) { ioapic.restore(s); }
};

// A dword access to one of the LAPIC's registers (16-byte aligned).
void poke_lapic(Lapic& lapic, std::mt19937& rng, Log& log) {
  uint8_t v[4];
  uint64_t reg = (rng() % 0x40) * 0x10;
  if (rng() % 2) {
    store_le(v, rng());
    lapic.write(reg, v);
  } else {
    lapic.read(reg, v);
    log.push_back(load_le(v));
  }
}

struct LapicRig {
  TestClock clock;
  Lapic lapic{clock};
  Log* log = nullptr;
  LapicRig() {
    lapic.set_eoi_broadcast([this](uint8_t v) { log->push_back(0x5000 + v); });
  }
  void step(std::mt19937& rng) {
    switch (rng() % 6) {
      case 0:
        tick(lapic, clock, rng, *log);
        break;
      case 1:
        log->push_back(lapic.accept_interrupt(static_cast<uint8_t>(rng()), rng() % 2));
        break;
      case 2:
        log->push_back(lapic.acknowledge().value_or(0xfff));
        break;
      default:
        poke_lapic(lapic, rng, *log);
    }
  }
  Two<Lapic::State, uint64_t> save() { return {lapic.save(), clock.now}; }
  void restore(const Two<Lapic::State, uint64_t>& s) {
    lapic.restore(s.first);
    clock.now = s.second;
  }
};

// The arbiter between the two controllers keeps nothing itself: rewinding
// them rewinds what it decides.
struct ArbiterRig {
  TestClock clock;
  PicPair pic;
  Lapic lapic{clock};
  InterruptArbiter arbiter{pic, lapic};
  Log* log = nullptr;
  void step(std::mt19937& rng) {
    switch (rng() % 6) {
      case 0:
        pic.irq(static_cast<int>(rng() % 16)).set_level(rng() % 2);
        break;
      case 1:
        log->push_back(arbiter.acknowledge().value_or(0xfff));
        break;
      case 2:
        poke(pic.master_io(), 2, rng, *log);
        break;
      case 3:
        lapic.accept_interrupt(static_cast<uint8_t>(rng()), false);
        break;
      default:
        poke_lapic(lapic, rng, *log);
    }
    log->push_back(static_cast<uint64_t>(arbiter.pending_source()));
  }
  Two<PicPair::State, Lapic::State> save() { return {pic.save(), lapic.save()}; }
  void restore(const Two<PicPair::State, Lapic::State>& s) {
    pic.restore(s.first);
    lapic.restore(s.second);
  }
};

struct AcpiPmRig {
  TestClock clock;
  LoggedLine sci{&log};
  Log* log = nullptr;
  AcpiPm pm{clock, sci, [this] { log->push_back(0x6000); }};
  void step(std::mt19937& rng) {
    if (rng() % 4 == 0) {
      tick(pm, clock, rng, *log);
    } else {
      poke(pm, AcpiPm::kSize, rng, *log);
    }
  }
  Two<AcpiPm::State, uint64_t> save() { return {pm.save(), clock.now}; }
  void restore(const Two<AcpiPm::State, uint64_t>& s) {
    pm.restore(s.first);
    clock.now = s.second;
  }
};

struct PortsRig {
  Log* log = nullptr;
  DebugExit exit{[this](int status) { log->push_back(0x7000 + status); }};
  PostPort post{[this](uint8_t code) { log->push_back(0x8000 + code); }};
  void step(std::mt19937& rng) {
    if (rng() % 2) {
      poke(exit, 4, rng, *log);
    } else {
      poke(post, 1, rng, *log);
    }
  }
  Two<DebugExit::State, PostPort::State> save() { return {exit.save(), post.save()}; }
  void restore(const Two<DebugExit::State, PostPort::State>& s) {
    exit.restore(s.first);
    post.restore(s.second);
  }
};

// Bus 0 with the PIIX3 and one function with an I/O and a memory BAR and
// INTA#, through the IRQ router: BAR moves and INTx levels are logged.
struct PciRig {
  PciHost host;
  PiixIsa isa;
  std::array<LoggedLine, 16> pic_lines = logged_lines<16>(&log);
  std::array<LoggedLine, 4> apic_lines = logged_lines<4>(&log);
  PciIrqRouter router{isa, pointers(pic_lines), pointers(apic_lines)};
  PciConfig fn{PciConfig::Identity{0x1234, 0x5678, 1, 0x020000, 0, 0, 0}};
  Log* log = nullptr;
  PciRig() {
    fn.add_bar(0, PciConfig::BarKind::kIo, 256);
    fn.add_bar(1, PciConfig::BarKind::kMem32, 4096);
    fn.set_interrupt_pin(1);
    fn.connect_intx(&router.intx(3, 1));
    fn.set_bar_observer([this](int bar, uint64_t base, bool on) {
      log->push_back(0x9000 + bar);
      log->push_back(base + on);
    });
    host.attach(1, 0, isa);
    host.attach(3, 0, fn);
  }
  void step(std::mt19937& rng) {
    switch (rng() % 4) {
      case 0:
        fn.set_intx(rng() % 2);
        break;
      case 1: {
        // CONFIG_ADDRESS for bus 0, device 0, 1 or 3, a random register.
        uint32_t dev = std::array<uint32_t, 3>{0, 1, 3}[rng() % 3];
        uint8_t a[4];
        store_le(a, 0x80000000u | dev << 11 | (rng() % 64) << 2);
        host.address_io().write(0, a);
        break;
      }
      default:
        poke(host.data_io(), 4, rng, *log);
    }
  }
  struct Saved {
    PciHost::State host;
    PiixIsa::State isa;
    PciIrqRouter::State router;
    PciConfig::State fn;
  };
  Saved save() { return {host.save(), isa.save(), router.save(), fn.save()}; }
  void restore(const Saved& s) {
    fn.restore(s.fn);
    host.restore(s.host);
    isa.restore(s.isa);
    router.restore(s.router);
  }
};

// The RTL8139C+ in C+ mode with its rings in memory: random register
// accesses, transmits of random descriptors, received frames, time.
struct NicRig {
  static constexpr uint64_t kTxRing = 0x1000, kRxRing = 0x2000, kBufs = 0x10000;
  TestClock clock;
  VectorMemory mem{1 << 20};
  Rtl8139 nic{clock, mem, Rtl8139::Config{}};
  LoggedLine intx{&log};
  Log* log = nullptr;
  NicRig() {
    nic.pci().connect_intx(&intx);
    uint8_t cmd[2] = {PciConfig::kCmdIo | PciConfig::kCmdBusMaster, 0};
    nic.pci().config_write(PciConfig::kCommand, cmd);
    nic.set_tx_sink([this](std::span<const uint8_t> f) {
      log->push_back(0xa000 + f.size());
      log->push_back(f.empty() ? 0 : f[f.size() / 2]);
    });
    wr(Rtl8139::kCplusCmd, 3, 2);
    wr(Rtl8139::kTsad0, kTxRing, 4);
    wr(Rtl8139::kRxRingAddr, kRxRing, 4);
    wr(Rtl8139::kCr, 0x0c, 1);
    wr(Rtl8139::kRcr, 0x0f, 4);
    wr(Rtl8139::kImr, 0xffff, 2);
    wr(Rtl8139::kTimerInt, 0x400, 4);
    for (int i = 0; i < 16; ++i) descriptor(kRxRing, i, Rtl8139::kDescOwn | 2048);
  }
  void wr(uint8_t off, uint32_t v, size_t size) {
    uint8_t b[4];
    store_le({b, size}, v);
    nic.write(off, {b, size});
  }
  void descriptor(uint64_t ring, int i, uint32_t cmd) {
    uint8_t d[16] = {};
    store_le({d, 4}, cmd | (i == 15 ? Rtl8139::kDescEor : 0));
    store_le({d + 8, 8}, kBufs + 2048 * i);
    mem.write(ring + 16 * i, d);
  }
  void step(std::mt19937& rng) {
    switch (rng() % 8) {
      case 0:
        tick(nic, clock, rng, *log);
        break;
      case 1:
        log->push_back(nic.receive(std::vector<uint8_t>(14 + rng() % 1500, uint8_t(rng()))));
        break;
      case 2:
        descriptor(kTxRing, static_cast<int>(rng() % 16),
                   Rtl8139::kDescOwn | Rtl8139::kDescFs | Rtl8139::kDescLs | (rng() % 1600));
        wr(Rtl8139::kTxPoll, 0x40, 1);
        break;
      case 3:
        descriptor(kRxRing, static_cast<int>(rng() % 16), Rtl8139::kDescOwn | 2048);
        break;
      case 4:
        poke_register(rng);
        break;
      default: {
        uint8_t b[4];
        size_t size = size_t{1} << (rng() % 3);
        nic.read(rng() % Rtl8139::kRegisterSpace & ~(size - 1), {b, size});
        log->push_back(load_le({b, size}));
      }
    }
  }
  // Writes that keep the chip in C+ mode with its rings (a random write to
  // the command or ring registers, or an EEPROM auto-load, would reset it
  // for the rest of the run): interrupt status and mask, the timer, and
  // the EEPROM's pins in programming mode (93C46 bit-banging).
  void poke_register(std::mt19937& rng) {
    constexpr std::array<std::pair<uint8_t, uint8_t>, 5> kRegs = {{{Rtl8139::kIsr, 2},
                                                                   {Rtl8139::kImr, 2},
                                                                   {Rtl8139::kTctr, 4},
                                                                   {Rtl8139::kTimerInt, 4},
                                                                   {Rtl8139::kMpc, 4}}};
    if (rng() % 3 == 0) {
      wr(Rtl8139::k9346Cr, 0x80 | (rng() & 0x0f), 1);
      return;
    }
    auto [reg, size] = kRegs[rng() % kRegs.size()];
    wr(reg, static_cast<uint32_t>(rng()), size);
  }
  struct Saved {
    Rtl8139::State nic;
    PciConfig::State pci;
    uint64_t clock_ns;
    std::vector<uint8_t> mem;
  };
  Saved save() { return {nic.save(), nic.pci().save(), clock.now, mem.bytes()}; }
  void restore(const Saved& s) {
    mem.bytes() = s.mem;
    clock.now = s.clock_ns;
    nic.pci().restore(s.pci);
    nic.restore(s.nic);
  }
};

// fw_cfg: selects and byte reads of its items, and DMA transfers (read,
// skip, select) into guest memory through an FWCfgDmaAccess in memory.
struct FwCfgRig {
  static constexpr uint64_t kAccess = 0x100, kBuffer = 0x1000;
  VectorMemory mem{1 << 16};
  FwCfg fw{content(), mem};
  Log* log = nullptr;
  static FwCfg::Content content() {
    FwCfg::Content c;
    c.ram_size = 64 << 20;
    c.cmdline = "console=ttyS0 rewind";
    c.files["etc/e820"] = std::vector<uint8_t>(40, 0x5a);
    c.files["opt/test"] = std::vector<uint8_t>(300, 0xa5);
    return c;
  }
  void step(std::mt19937& rng) {
    switch (rng() % 4) {
      case 0: {
        uint8_t key[2];
        store_le(key, std::array<uint16_t, 5>{0, 1, 0x15, 0x19, 0x20}[rng() % 5] + rng() % 2);
        fw.write(0, key);
        break;
      }
      case 1:
        dma(rng);
        break;
      default: {
        uint8_t b = 0;
        fw.read(1, {&b, 1});
        log->push_back(b);
      }
    }
  }
  // FWCfgDmaAccess: be32 control, be32 length, be64 address.
  void dma(std::mt19937& rng) {
    uint8_t access[16] = {};
    uint32_t control = (rng() % 8) << 1 | (rng() % 2 ? (0x19u + rng() % 3) << 16 | 8 : 0);
    for (int i = 0; i < 4; ++i) access[i] = uint8_t(control >> (24 - 8 * i));
    access[7] = uint8_t(rng() % 64);
    access[14] = uint8_t(kBuffer >> 8);
    mem.write(kAccess, access);
    uint8_t high[4] = {}, low[4] = {0, 0, uint8_t(kAccess >> 8), uint8_t(kAccess)};
    fw.write(4, high);
    fw.write(8, low);
    uint8_t result[4];
    mem.read(kAccess, result);
    log->push_back(load_le(result));
    log->push_back(mem.bytes()[kBuffer + rng() % 64]);
  }
  Two<FwCfg::State, std::vector<uint8_t>> save() { return {fw.save(), mem.bytes()}; }
  void restore(const Two<FwCfg::State, std::vector<uint8_t>>& s) {
    fw.restore(s.first);
    mem.bytes() = s.second;
  }
};

// QEMU's pc-testdev: its scratch register and I/O memory, and the lines
// it drives (logged).
struct TestdevRig {
  std::array<LoggedLine, PcTestdev::kIrqLines> lines = logged_lines<PcTestdev::kIrqLines>(&log);
  PcTestdev dev{pointers(lines)};
  Log* log = nullptr;
  void step(std::mt19937& rng) {
    switch (rng() % 3) {
      case 0:
        poke(dev.ports(), PcTestdev::kPortsSize, rng, *log);
        break;
      case 1:
        poke(dev.irq_lines(), PcTestdev::kIrqLines, rng, *log);
        break;
      default:
        poke(dev.iomem(), PcTestdev::kIomemSize, rng, *log);
    }
  }
  PcTestdev::State save() { return dev.save(); }
  void restore(const PcTestdev::State& s) { dev.restore(s); }
};

TEST(Rewind, Pic) {
  expect_rewind_repeats<PicRig>();
}
TEST(Rewind, Pit) {
  expect_rewind_repeats<PitRig>();
}
TEST(Rewind, Rtc) {
  expect_rewind_repeats<RtcRig>();
}
TEST(Rewind, Hpet) {
  expect_rewind_repeats<HpetRig>();
}
TEST(Rewind, Uart) {
  expect_rewind_repeats<UartRig>();
}
TEST(Rewind, Ioapic) {
  expect_rewind_repeats<IoapicRig>();
}
TEST(Rewind, Lapic) {
  expect_rewind_repeats<LapicRig>();
}
TEST(Rewind, InterruptArbiterWithPicAndLapic) {
  expect_rewind_repeats<ArbiterRig>();
}
TEST(Rewind, AcpiPm) {
  expect_rewind_repeats<AcpiPmRig>();
}
TEST(Rewind, DebugExitAndPostPort) {
  expect_rewind_repeats<PortsRig>(500);
}
TEST(Rewind, PciHostPiixRouterAndAFunction) {
  expect_rewind_repeats<PciRig>();
}
TEST(Rewind, FwCfgWithDma) {
  expect_rewind_repeats<FwCfgRig>(1500);
}
TEST(Rewind, PcTestdev) {
  expect_rewind_repeats<TestdevRig>();
}
TEST(Rewind, Rtl8139WithItsEepromAndDma) {
  expect_rewind_repeats<NicRig>(1500);
}

}  // namespace
}  // namespace rrvm
