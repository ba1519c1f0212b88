// The board's DeviceStates: nothing the board reaches is left out of a
// checkpoint, restoring a snapshot is exact, and a board rewound to a
// snapshot repeats what it did after it (reads, output, interrupts, BAR
// placement) — the device half of machine checkpoints, without KVM.
#include "vmm/device_states.h"

#include <gtest/gtest.h>

#include <random>

#include "vmm/pc_board.h"

namespace rrvm {
namespace {

// Guest time for the board that can also go back, as a restore needs.
struct RewindableClock final : Clock {
  uint64_t now_ns() override { return now; }
  uint64_t now = 0;
};

// A PC with every device rrvm has (the NIC and pc-testdev too), firmware
// set up.
struct TestBoard {
  TestBoard() { pc.setup_firmware(cfg, ram); }
  static MachineConfig with_nic() {
    MachineConfig c;
    c.net = NetConfig{NetKind::kUser, "user"};
    c.pc_testdev = true;
    return c;
  }
  // Everything a checkpoint holds for this board, RAM included (the NIC's
  // DMA writes it).
  struct Saved {
    DeviceStates::Snapshot devices;
    Board::State board;
    uint64_t clock_ns;
    std::vector<uint8_t> ram;
    size_t serial_length;
  };
  Saved save() {
    std::vector<uint8_t> bytes(ram.size());
    EXPECT_TRUE(ram.read(0, bytes));
    return {pc.states().save(), pc.board().save(), clock.now, bytes, serial.text.size()};
  }
  void restore(const Saved& s) {
    EXPECT_TRUE(ram.write(0, s.ram));
    pc.states().restore(s.devices);
    pc.board().restore(s.board);
    clock.now = s.clock_ns;
  }

  MachineConfig cfg = with_nic();
  GuestRam ram{16 << 20};
  RewindableClock clock;
  StringSink serial;
  PcBoard pc{cfg, ram, clock, serial};
};

TEST(DeviceStates, EveryBusDeviceTimerAndPciFunctionIsInTheSnapshot) {
  TestBoard t;
  const DeviceStates& states = t.pc.states();
  for (const Bus* bus : {&t.pc.board().pio, &t.pc.board().mmio}) {
    bus->for_each([&](uint64_t base, uint64_t, IoDevice& dev) {
      EXPECT_TRUE(states.covers(&dev)) << dev.name() << " at " << std::hex << base << " on the "
                                       << bus->name() << " bus has no State in DeviceStates";
    });
  }
  for (TimedDevice* timer : t.pc.board().timers) EXPECT_TRUE(states.covers(timer)) << "a timer";
  EXPECT_TRUE(states.covers(t.pc.board().interrupts));
  int functions = 0;
  for (int dev = 0; dev < PciHost::kDevices; ++dev) {
    if (PciDevice* f = t.pc.pci().function_at(dev, 0)) {
      ++functions;
      EXPECT_TRUE(states.covers(f)) << "PCI function 00:" << dev << ".0";
    }
  }
  EXPECT_EQ(functions, 3) << "host bridge, PIIX3, RTL8139C+";
}

// What a guest sees from the board: every read, the vectors it takes,
// where the devices are mapped, a stop request.
struct Observed {
  std::vector<std::pair<uint64_t, uint64_t>> reads;  // (address, value)
  std::vector<int> vectors;
  std::vector<std::pair<uint64_t, std::string>> mappings;
  bool stopped = false;
};

// A random but reproducible guest: accesses anywhere on the buses (PCI
// configuration included, so BARs move), time passing, interrupts taken.
class RandomGuest {
 public:
  explicit RandomGuest(uint32_t seed) : rng_(seed) {}
  Observed run(TestBoard& t, int ops);

 private:
  void access(const Bus& bus, Observed& seen);
  std::mt19937 rng_;
};

void RandomGuest::access(const Bus& bus, Observed& seen) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  bus.for_each([&](uint64_t base, uint64_t size, IoDevice&) { ranges.push_back({base, size}); });
  auto [base, size] = ranges[rng_() % ranges.size()];
  std::vector<uint8_t> data(size_t{1} << (rng_() % 3), 0);
  uint64_t addr = base + (rng_() % size & ~uint64_t{data.size() - 1});  // naturally aligned
  if (rng_() % 2) {
    for (auto& b : data) b = static_cast<uint8_t>(rng_());
    bus.write(addr, data);
  } else {
    bus.read(addr, data);
    seen.reads.push_back({addr, load_le(data)});
  }
}

Observed RandomGuest::run(TestBoard& t, int ops) {
  Observed seen;
  Board& b = t.pc.board();
  for (int i = 0; i < ops; ++i) {
    switch (rng_() % 8) {
      case 0:
        t.clock.now += rng_() % 2'000'000;
        b.advance_timers(t.clock.now);
        break;
      case 1:
        if (b.interrupts->has_interrupt()) seen.vectors.push_back(*b.interrupts->acknowledge());
        break;
      case 2:
        access(b.mmio, seen);
        break;
      default:
        access(b.pio, seen);
    }
  }
  seen.stopped = b.stop.has_value();
  for (const Bus* bus : {&b.pio, &b.mmio}) {
    bus->for_each([&](uint64_t base, uint64_t, IoDevice& dev) {
      seen.mappings.push_back({base, std::string(dev.name())});
    });
  }
  return seen;
}

TEST(DeviceStates, RestoringASnapshotGivesBackTheSameStates) {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    TestBoard t;
    RandomGuest(seed).run(t, 4000);
    DeviceStates::Snapshot s = t.pc.states().save();
    t.pc.states().restore(s);
    EXPECT_EQ(t.pc.states().differing(s, t.pc.states().save()), std::vector<std::string>{})
        << "seed " << seed << ": restore(save()) changed these devices";
  }
}

TEST(DeviceStates, ARewoundBoardRepeatsWhatItDid) {
  for (uint32_t seed : {11u, 12u, 13u, 14u}) {
    TestBoard t;
    RandomGuest(seed).run(t, 3000);
    TestBoard::Saved before = t.save();
    Observed first = RandomGuest(seed + 100).run(t, 3000);
    std::string output = t.serial.text.substr(before.serial_length);
    DeviceStates::Snapshot after = t.pc.states().save();

    t.restore(before);
    EXPECT_EQ(t.pc.states().differing(before.devices, t.pc.states().save()),
              std::vector<std::string>{});
    size_t mark = t.serial.text.size();
    Observed again = RandomGuest(seed + 100).run(t, 3000);
    EXPECT_EQ(again.reads, first.reads) << "seed " << seed;
    EXPECT_EQ(again.vectors, first.vectors) << "seed " << seed;
    EXPECT_EQ(again.mappings, first.mappings) << "seed " << seed;
    EXPECT_EQ(again.stopped, first.stopped) << "seed " << seed;
    EXPECT_EQ(t.serial.text.substr(mark), output);
    EXPECT_EQ(t.pc.states().differing(after, t.pc.states().save()), std::vector<std::string>{})
        << "seed " << seed;
  }
}

}  // namespace
}  // namespace rrvm
