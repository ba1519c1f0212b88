/* PCI configuration mechanism #1. */
#include "pci.h"

#include "internal.h"

#define CONFIG_ADDRESS 0xCF8
#define CONFIG_DATA 0xCFC

static void select(int bus, int dev, int fn, int off) {
  outl(CONFIG_ADDRESS, 0x80000000u | (uint32_t)(bus & 0xff) << 16 | (uint32_t)(dev & 31) << 11 |
                           (uint32_t)(fn & 7) << 8 | (uint32_t)(off & 0xfc));
}

uint32_t pci_read32(int bus, int dev, int fn, int off) {
  select(bus, dev, fn, off);
  return inl(CONFIG_DATA);
}
uint16_t pci_read16(int bus, int dev, int fn, int off) {
  select(bus, dev, fn, off);
  return inw((uint16_t)(CONFIG_DATA + (off & 2)));
}
uint8_t pci_read8(int bus, int dev, int fn, int off) {
  select(bus, dev, fn, off);
  return inb((uint16_t)(CONFIG_DATA + (off & 3)));
}
void pci_write32(int bus, int dev, int fn, int off, uint32_t v) {
  select(bus, dev, fn, off);
  outl(CONFIG_DATA, v);
}
void pci_write16(int bus, int dev, int fn, int off, uint16_t v) {
  select(bus, dev, fn, off);
  outw((uint16_t)(CONFIG_DATA + (off & 2)), v);
}
