// What a PC BIOS does to PCI before the OS starts (SeaBIOS src/fw/pciinit.c
// is the model): size and place every BAR, enable decoding and bus
// mastering, write Interrupt Line, and program the PIIX3 PIRQ links and the
// ELCR so PCI interrupts work in PIC mode too. rrvm boots guests without a
// BIOS, so the VMM does this itself, through ordinary configuration cycles.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/pci_host.h"
#include "devices/pic.h"
#include "devices/piix_isa.h"
#include "firmware/platform_layout.h"

namespace rrvm {

// One BAR as placed, for logs and tests.
struct PciBarAssignment {
  int slot = 0, function = 0, bar = 0;
  bool io = false;
  uint32_t base = 0, size = 0;
};

// I/O BARs go up from 0xC000 (where SeaBIOS starts them on QEMU's PC, so
// port numbers look familiar); memory BARs up from the layout's PCI window.
constexpr uint32_t kPciIoStart = 0xC000;

// Throws std::runtime_error if the BARs do not fit their windows.
std::vector<PciBarAssignment> setup_pci(PciHost& host, PiixIsa& isa, PicPair& pic,
                                        const PlatformLayout& layout);

}  // namespace rrvm
