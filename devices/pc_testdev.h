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
  IoDevice& irq_lines() { return irq_lines_; }
  IoDevice& iomem() { return iomem_; }

  State save() const { return s_; }
  // Restores the registers; the lines keep whatever level the interrupt
  // controllers restored (their own State holds the input levels).
  void restore(const State& s);

 private:
  // QEMU's regions, each mapped on its own (ports, IRQ line ports, iomem).
  enum class Region { kPorts, kIrqLines, kIomem };
  class Facet final : public IoDevice {
   public:
    Facet(PcTestdev& t, Region r) : t_(t), region_(r) {}
    std::string_view name() const override;
    void read(uint64_t offset, std::span<uint8_t> data) override { t_.read(region_, offset, data); }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
      t_.write(region_, offset, data);
    }
    std::string register_name(uint64_t offset) const override;

   private:
    PcTestdev& t_;
    Region region_;
  };

  void read(Region r, uint64_t offset, std::span<uint8_t> data);
  void write(Region r, uint64_t offset, std::span<const uint8_t> data);
  void read_port(uint64_t offset, std::span<uint8_t> data);
  void write_port(uint64_t offset, std::span<const uint8_t> data);
  bool scratch_access(uint64_t offset, size_t size, const char* what);
  void set_line(uint64_t n, std::span<const uint8_t> data);
  void set_one_line(uint64_t n, bool high);
  bool in_iomem(uint64_t offset, size_t size, const char* what);

  std::array<IrqLine*, kIrqLines> lines_;
  WarnFn warn_;
  State s_;
  Facet ports_{*this, Region::kPorts};
  Facet irq_lines_{*this, Region::kIrqLines};
  Facet iomem_{*this, Region::kIomem};
};

}  // namespace rrvm
