/* PCI configuration mechanism #1 (PCI 3.0, 3.2.2.3.2): CONFIG_ADDRESS at
 * 0xCF8, CONFIG_DATA at 0xCFC. */
#ifndef RRVM_GUEST_PCI_H
#define RRVM_GUEST_PCI_H

#include <stdint.h>

#define PCI_VENDOR 0x00
#define PCI_DEVICE 0x02
#define PCI_COMMAND 0x04
#define PCI_REVISION 0x08
#define PCI_HEADER_TYPE 0x0E
#define PCI_BAR0 0x10
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN 0x3D

uint32_t pci_read32(int bus, int dev, int fn, int off);
uint16_t pci_read16(int bus, int dev, int fn, int off);
uint8_t pci_read8(int bus, int dev, int fn, int off);
void pci_write32(int bus, int dev, int fn, int off, uint32_t v);
void pci_write16(int bus, int dev, int fn, int off, uint16_t v);

#endif
