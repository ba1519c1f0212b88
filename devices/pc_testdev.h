// QEMU's pc-testdev (-device pc-testdev): the ISA test device kvm-unit-tests
// drives to raise interrupt lines, check port I/O emulation and reach an
// MMIO scratch area.
//
// Reference: QEMU hw/misc/pc-testdev.c. Its regions, and the facets here:
//   ports()      0xE0-0xEB (kPortsSize)
//     0xE0-0xE3  "ioport": one 32-bit scratch register; a 1/2/4-byte access
//                at 0xE0 + n reads or replaces bytes n.. of it (emulator.c,
//                amd_sev.c read back what they wrote, incl. rep insb/outsb).
//     0xE4-0xE7  "flush page": a 4-byte write of a guest physical address.
//                QEMU mprotect()s its host mapping of that page to PROT_NONE
//                and back, which makes the host drop KVM's EPT/shadow entries
//                for it, so the guest's next access to the page takes a KVM
//                fault (eventinj.c uses it to have an exception delivered
//                through a stack or IDT page KVM must fault in). Here it is a
//                no-op, which is safe: the page's contents and the guest's own
//                page tables are untouched either way, so the guest sees the
//                same architectural state; only the host-side fault path is
//                not exercised. It also keeps the device free of host effects.
//     0xE8-0xEB  "ioport-byte": the same scratch register, which QEMU splits
//                into byte accesses (same result).
//   irq_lines()  0x2000-0x2017 (kIrqLines ports): a byte write to 0x2000 + n
//                sets line n to (value != 0). On QEMU line n is the ISA bus
//                IRQ n, i.e. GSI n (8259 input n, IOAPIC pin n, IRQ0 on pin 2)
//                and only n < 16 is valid: QEMU aborts on 16-23. Lines the
//                board does not connect (16-23) warn and are ignored.
//   iomem()      MMIO 0xFF000000, 64 KiB (kIomemSize): plain byte storage
//                ("IORAM" of emulator.c, cmpxchg8b.c, lam.c).
// Reads of the flush and IRQ ports read all-ones (QEMU has no read there).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "devices/io_device.h"
#include "devices/irq_line.h"
#include "devices/warn.h"

namespace rrvm {

class PcTestdev {
 public:
  static constexpr uint64_t kPortsSize = 12;
  static constexpr int kIrqLines = 24;
  static constexpr uint64_t kIomemSize = 0x10000;

  struct State {
    uint32_t scratch = 0;      // the 0xE0 / 0xE8 register
    uint32_t line_levels = 0;  // bit n: the level last written to line n
    std::vector<uint8_t> iomem = std::vector<uint8_t>(kIomemSize, 0);
  };

  // `lines[n]` is what line n drives; null where the board connects nothing.
  explicit PcTestdev(const std::array<IrqLine*, kIrqLines>& lines, WarnFn warn = {});
  PcTestdev(const PcTestdev&) = delete;
  PcTestdev& operator=(const PcTestdev&) = delete;

  IoDevice& ports() { return ports_; }
  IoDevice& irq_lines() { return irq_; }
  IoDevice& iomem() { return iomem_; }

  State save() const { return s_; }
  // Restores the registers; the lines keep whatever level the interrupt
  // controllers restored (their own State holds the input levels).
  void restore(const State& s);

 private:
  // One facet per QEMU region, each with its own read/write switch.
  class Ports final : public IoDevice {
   public:
    explicit Ports(PcTestdev& t) : t_(t) {}
    std::string_view name() const override { return "pc-testdev"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    std::string register_name(uint64_t offset) const override;

   private:
    PcTestdev& t_;
  };
  class IrqPorts final : public IoDevice {
   public:
    explicit IrqPorts(PcTestdev& t) : t_(t) {}
    std::string_view name() const override { return "pc-testdev-irq"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    PcTestdev& t_;
  };
  class Iomem final : public IoDevice {
   public:
    explicit Iomem(PcTestdev& t) : t_(t) {}
    std::string_view name() const override { return "pc-testdev-iomem"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

   private:
    PcTestdev& t_;
  };

  bool scratch_access(uint64_t offset, size_t size, const char* what);
  void set_line(int n, uint8_t value);

  std::array<IrqLine*, kIrqLines> lines_;
  WarnFn warn_;
  State s_;
  Ports ports_{*this};
  IrqPorts irq_{*this};
  Iomem iomem_{*this};
};

}  // namespace rrvm
