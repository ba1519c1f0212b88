// QEMU's firmware configuration device (fw_cfg), its x86 I/O port interface
// with the DMA add-on: how firmware and test kernels (kvm-unit-tests reads
// the CPU count and RAM size here) learn the machine's shape.
//
// Reference: QEMU docs/specs/fw_cfg.rst ("QEMU Firmware Configuration
// (fw_cfg) Device"), hw/nvram/fw_cfg.c, and the selector keys of
// include/standard-headers/linux/qemu_fw_cfg.h.
//
// Registers (offsets from the x86 base 0x510):
//   0    selector, 16-bit write: selects item `key & 0x3fff` of the generic
//        (bit 15 clear) or x86-specific (bit 15 set) table, and sets the data
//        offset to 0. Bit 14 (the old write channel) is ignored, as by QEMU.
//   0, 1 data, 8-bit read: the next byte of the selected item; 0 past its
//        end or for a key with no item. QEMU decodes its 2-port window as one
//        register (fw_cfg_comb_*), so both ports read data; byte writes there
//        are ignored (QEMU >= 2.4 supports writes only through DMA).
//   4-11 DMA address, 64-bit big-endian: a 32-bit write at 4 sets the high
//        half, one at 8 the low half and starts the transfer; an 8-byte write
//        at 4 does both. Reads return "QEMU CFG", the DMA signature.
// DMA: the address names a FWCfgDmaAccess {be32 control; be32 length; be64
// address} in guest RAM. Control bits: 0 error, 1 read, 2 skip, 3 select
// (key in 31:16), 4 write. A read copies `length` bytes of the item to
// `address` (zeros past its end), skip advances the offset, write is refused
// (every item is read-only: error bit). Control is then written back as 0
// or the error bit. Every guest address goes through GuestMemory; one outside
// RAM ends the transfer with the error bit.
//
// Items: built once from the machine's configuration (deterministic):
//   0x0000 signature "QEMU"           0x0001 ID: 3 (traditional + DMA)
//   0x0003 RAM size, u64 LE           0x0005 NB_CPUS, u16 LE
//   0x000f MAX_CPUS, u16 LE           0x0014 CMDLINE_SIZE, u32 LE (strlen + 1)
//   0x0015 CMDLINE_DATA, NUL-terminated
//   0x0019 file directory             0x0020 and up: the files, sorted by name
// Every other key reads 0. Notably 0x0011, which kvm-unit-tests reads as
// its FW_CFG_MAX_RAM (0 = no limit): on QEMU that key is FW_CFG_KERNEL_DATA,
// which for a Multiboot -kernel holds the loaded image, so a kvm-unit-tests
// image there reads its own Multiboot magic and flags (0x1BADB002, ~443 MiB)
// as the limit. That matters only for RAM above 4 GiB; here there is none.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "devices/guest_memory.h"
#include "devices/io_device.h"
#include "devices/warn.h"

namespace rrvm {

class FwCfg final : public IoDevice {
 public:
  static constexpr uint64_t kIoSize = 12;  // 0x510-0x51b: selector/data, gap, DMA address

  // Selector keys (qemu_fw_cfg.h).
  static constexpr uint16_t kSignature = 0x0000, kId = 0x0001, kRamSize = 0x0003;
  static constexpr uint16_t kNbCpus = 0x0005, kMaxCpus = 0x000f;
  static constexpr uint16_t kCmdlineSize = 0x0014, kCmdlineData = 0x0015;
  static constexpr uint16_t kFileDir = 0x0019, kFileFirst = 0x0020;
  static constexpr size_t kFileNameMax = 56;  // FWCfgFile.name, NUL included

  // What the items say: the machine configuration, and named files
  // (e.g. "etc/e820"). Names must be shorter than kFileNameMax.
  struct Content {
    uint64_t ram_size = 0;
    uint16_t cpus = 1;
    std::string cmdline;
    std::map<std::string, std::vector<uint8_t>> files;  // sorted by name, as QEMU does
  };

  struct State {
    uint16_t selector = kSignature;  // QEMU selects key 0 at reset
    uint32_t offset = 0;             // data offset within the selected item
    uint64_t dma_address = 0;        // the DMA address register (0 after a transfer)
  };

  // `memory` is guest RAM, for DMA. Throws std::invalid_argument for a file
  // name too long for the directory.
  FwCfg(const Content& content, GuestMemory& memory, WarnFn warn = {});

  std::string_view name() const override { return "fw_cfg"; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  std::string register_name(uint64_t offset) const override;

  // The bytes of item `key` (empty when there is none), for tests and reports.
  std::span<const uint8_t> item(uint16_t key) const;

  State save() const { return s_; }
  void restore(const State& s) { s_ = s; }

 private:
  void add(uint16_t key, std::vector<uint8_t> bytes);
  void add_files(const std::map<std::string, std::vector<uint8_t>>& files);
  void select(uint16_t key);
  uint8_t next_byte();
  void write_dma(uint64_t offset, std::span<const uint8_t> data);
  void run_dma();
  uint32_t transfer(uint32_t control, uint32_t length, uint64_t address);
  bool fill_zeros(uint64_t address, uint32_t length);

  std::map<uint16_t, std::vector<uint8_t>> items_;
  GuestMemory& memory_;
  WarnFn warn_;
  State s_;
};

}  // namespace rrvm
