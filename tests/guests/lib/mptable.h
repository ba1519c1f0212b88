/* Intel MultiProcessor Specification 1.4: finding and parsing the MP
 * floating pointer and configuration table the way an OS does (4.1: the
 * first KiB of the EBDA, the last KiB of base memory, then 0xF0000-0xFFFFF,
 * on 16-byte boundaries). */
#ifndef RRVM_GUEST_MPTABLE_H
#define RRVM_GUEST_MPTABLE_H

#include <stdint.h>

#define MP_MAX_BUSES 16
#define MP_MAX_IOAPICS 4
#define MP_MAX_INTS 64
#define MP_MAX_CPUS 8

#define MP_INT_IO 3    /* I/O interrupt assignment entry */
#define MP_INT_LOCAL 4 /* local interrupt assignment entry */

struct mp_int {
  uint8_t entry_type; /* MP_INT_IO or MP_INT_LOCAL */
  uint8_t int_type;   /* 0 INT, 1 NMI, 2 SMI, 3 ExtINT */
  uint16_t flags;     /* polarity bits 1:0, trigger bits 3:2 */
  uint8_t src_bus, src_irq, dst_id, dst_pin;
};

struct mp_info {
  uint64_t fp_addr, table_addr; /* 0 when not found */
  uint8_t spec_rev, features2;  /* features2 bit 7: IMCR present */
  uint16_t entries;
  uint32_t lapic_addr;
  int ncpus;
  struct {
    uint8_t apic_id, flags;
  } cpu[MP_MAX_CPUS];
  int nbuses;
  struct {
    uint8_t id;
    char type[7]; /* NUL-terminated, trailing blanks removed */
  } bus[MP_MAX_BUSES];
  int nioapics;
  struct {
    uint8_t id, version, flags;
    uint32_t addr;
  } ioapic[MP_MAX_IOAPICS];
  int nints;
  struct mp_int ints[MP_MAX_INTS];
  const char* error; /* set when a table was found but is unusable */
};

/* Fills *mp; returns 1 when a valid table was found. */
int mp_find(struct mp_info* mp);
/* The type string of bus `id`, or 0 if the table has no such bus. */
const char* mp_bus_type(const struct mp_info* mp, int id);
int mp_has_bus_type(const struct mp_info* mp, const char* type);

/* Results of the interrupt look-ups. */
#define MP_ROUTE_OK 0
#define MP_ROUTE_NO_BUS (-1)   /* no bus of that kind/number in the table */
#define MP_ROUTE_NO_ENTRY (-2) /* bus known, no I/O interrupt entry */
/* PCI bus `bus` (the MP bus ID of a PCI bus equals its bus number, MP spec
 * D.2), device `dev`, pin 1-4: source IRQ (dev << 2) | (pin - 1). */
int mp_route_pci(const struct mp_info* mp, int bus, int dev, int pin, const struct mp_int** out);
/* ISA IRQ `irq` on the table's (first) ISA bus. */
int mp_route_isa(const struct mp_info* mp, int irq, const struct mp_int** out);
/* The I/O APIC with MP ID `id`, or -1. */
int mp_ioapic_index(const struct mp_info* mp, int id);

/* Prints the table the way NetBSD's mpbios does with mp_verbose, one entry a
 * line, each prefixed with `prefix`. */
void mp_print(const struct mp_info* mp, const char* prefix);

#endif
