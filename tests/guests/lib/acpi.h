/* ACPI tables as an OS finds them (ACPI 6.5, 5.2.5.1): the RSDP on a 16-byte
 * boundary in the first KiB of the EBDA or in 0xE0000-0xFFFFF, then
 * RSDT -> FADT ("FACP") -> DSDT, the MADT ("APIC") and the HPET table
 * (IA-PC HPET 1.0a, 3.2.4). */
#ifndef RRVM_GUEST_ACPI_H
#define RRVM_GUEST_ACPI_H

#include <stdint.h>

#define ACPI_MAX_ISOS 16

struct acpi_info {
  uint64_t rsdp, rsdt, fadt, dsdt, madt, hpet; /* 0 when absent */
  uint8_t rsdp_rev;
  uint32_t dsdt_len;
  int bad_checksums; /* tables found with a wrong checksum (ignored) */
  uint8_t sci_irq;   /* FADT SCI_INT */
  /* MADT */
  uint32_t madt_lapic;
  int madt_nlapics, madt_nioapics;
  uint8_t madt_lapic_id;
  uint8_t madt_ioapic_id;
  uint32_t madt_ioapic_addr, madt_ioapic_gsi;
  int nisos;
  struct {
    uint8_t irq;
    uint32_t gsi;
    uint16_t flags;
  } iso[ACPI_MAX_ISOS];
  /* HPET table: Event Timer Block ID and the timer block's address. */
  uint32_t hpet_block_id;
  uint64_t hpet_base;
};

/* Fills *ai; returns 1 when an RSDP with a valid RSDT was found. */
int acpi_find(struct acpi_info* ai);
/* Whether the DSDT defines a method _PIC: a MethodOp (0x14), its PkgLength
 * (1-4 bytes, count in bits 7:6 of the lead byte), an optional root prefix
 * '\', then the NameSeg "_PIC". A byte scan, not an AML parser: enough for
 * firmware that declares _PIC at the root as QEMU's and rrvm's do. */
int acpi_dsdt_has_pic_method(const struct acpi_info* ai);

#endif
