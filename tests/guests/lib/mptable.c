/* MP table search and parsing (Intel MP spec 1.4, chapter 4). */
#include "mptable.h"

#include "internal.h"
#include "phys.h"

#define BDA_EBDA_SEGMENT 0x40E
#define BDA_BASE_MEM_KIB 0x413

static int str_eq(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

/* 4.1: "_MP_", length in 16-byte units, checksum over the whole structure. */
static uint64_t scan(uint64_t start, uint64_t len) {
  for (uint64_t a = start; a + 16 <= start + len; a += 16) {
    if (!phys_match(a, "_MP_", 4)) continue;
    uint8_t units = phys_read8(a + 8);
    if (units == 0 || phys_sum(a, 16u * units) != 0) continue;
    return a;
  }
  return 0;
}

static uint64_t find_floating_pointer(void) {
  uint64_t ebda = (uint64_t)phys_read16(BDA_EBDA_SEGMENT) << 4;
  uint64_t base_top = (uint64_t)phys_read16(BDA_BASE_MEM_KIB) * 1024;
  uint64_t fp = 0;
  if (ebda >= 0x80000 && ebda < 0xA0000) fp = scan(ebda, 1024);
  if (!fp && base_top >= 1024 && base_top <= 0xA0000) fp = scan(base_top - 1024, 1024);
  if (!fp) fp = scan(0xF0000, 0x10000);
  return fp;
}

int mp_find(struct mp_info* mp) {
  memset(mp, 0, sizeof *mp);
  uint64_t fp = find_floating_pointer();
  if (!fp) return 0;
  mp->fp_addr = fp;
  mp->spec_rev = phys_read8(fp + 9);
  mp->features2 = phys_read8(fp + 12);
  uint64_t t = phys_read32(fp + 4);
  if (phys_read8(fp + 11) != 0) {
    mp->error = "default configuration (feature byte 1) not supported";
    return 0;
  }
  if (!t || !phys_match(t, "PCMP", 4)) {
    mp->error = "no PCMP configuration table";
    return 0;
  }
  uint16_t base_len = phys_read16(t + 4);
  if (base_len < 44 || phys_sum(t, base_len) != 0) {
    mp->error = "configuration table checksum";
    return 0;
  }
  mp->table_addr = t;
  mp->entries = phys_read16(t + 0x22);
  mp->lapic_addr = phys_read32(t + 0x24);
  uint64_t p = t + 44, end = t + base_len;
  for (unsigned i = 0; i < mp->entries && p < end; ++i) {
    uint8_t type = phys_read8(p);
    if (type == 0) {
      if (mp->ncpus < MP_MAX_CPUS) {
        mp->cpu[mp->ncpus].apic_id = phys_read8(p + 1);
        mp->cpu[mp->ncpus].flags = phys_read8(p + 3);
        ++mp->ncpus;
      }
      p += 20;
      continue;
    }
    if (type == 1 && mp->nbuses < MP_MAX_BUSES) {
      mp->bus[mp->nbuses].id = phys_read8(p + 1);
      int n = 6;
      for (int k = 0; k < 6; ++k) mp->bus[mp->nbuses].type[k] = (char)phys_read8(p + 2 + k);
      while (n > 0 && (mp->bus[mp->nbuses].type[n - 1] == ' ' || !mp->bus[mp->nbuses].type[n - 1]))
        --n;
      mp->bus[mp->nbuses].type[n] = 0;
      ++mp->nbuses;
    } else if (type == 2 && mp->nioapics < MP_MAX_IOAPICS) {
      mp->ioapic[mp->nioapics].id = phys_read8(p + 1);
      mp->ioapic[mp->nioapics].version = phys_read8(p + 2);
      mp->ioapic[mp->nioapics].flags = phys_read8(p + 3);
      mp->ioapic[mp->nioapics].addr = phys_read32(p + 4);
      ++mp->nioapics;
    } else if ((type == 3 || type == 4) && mp->nints < MP_MAX_INTS) {
      struct mp_int* e = &mp->ints[mp->nints++];
      e->entry_type = type;
      e->int_type = phys_read8(p + 1);
      e->flags = phys_read16(p + 2);
      e->src_bus = phys_read8(p + 4);
      e->src_irq = phys_read8(p + 5);
      e->dst_id = phys_read8(p + 6);
      e->dst_pin = phys_read8(p + 7);
    } else if (type > 4) {
      mp->error = "unknown entry type";
      return 0;
    }
    p += 8;
  }
  return 1;
}

const char* mp_bus_type(const struct mp_info* mp, int id) {
  for (int i = 0; i < mp->nbuses; ++i)
    if (mp->bus[i].id == id) return mp->bus[i].type;
  return 0;
}

int mp_has_bus_type(const struct mp_info* mp, const char* type) {
  for (int i = 0; i < mp->nbuses; ++i)
    if (str_eq(mp->bus[i].type, type)) return 1;
  return 0;
}

static int route(const struct mp_info* mp, int bus, int irq, const struct mp_int** out) {
  for (int i = 0; i < mp->nints; ++i) {
    const struct mp_int* e = &mp->ints[i];
    if (e->entry_type == MP_INT_IO && e->int_type == 0 && e->src_bus == bus && e->src_irq == irq) {
      *out = e;
      return MP_ROUTE_OK;
    }
  }
  return MP_ROUTE_NO_ENTRY;
}

int mp_route_pci(const struct mp_info* mp, int bus, int dev, int pin, const struct mp_int** out) {
  const char* t = mp_bus_type(mp, bus);
  if (!t || !str_eq(t, "PCI")) return MP_ROUTE_NO_BUS;
  return route(mp, bus, (dev << 2) | ((pin - 1) & 3), out);
}

int mp_route_isa(const struct mp_info* mp, int irq, const struct mp_int** out) {
  for (int i = 0; i < mp->nbuses; ++i)
    if (str_eq(mp->bus[i].type, "ISA")) return route(mp, mp->bus[i].id, irq, out);
  return MP_ROUTE_NO_BUS;
}

int mp_ioapic_index(const struct mp_info* mp, int id) {
  for (int i = 0; i < mp->nioapics; ++i)
    if (mp->ioapic[i].id == id) return i;
  return -1;
}

static const char* const int_types[4] = {"INT", "NMI", "SMI", "ExtINT"};

void mp_print(const struct mp_info* mp, const char* prefix) {
  for (int i = 0; i < mp->ncpus; ++i) {
    puts(prefix);
    puts("cpu apic id ");
    put_dec(mp->cpu[i].apic_id);
    puts(mp->cpu[i].flags & 2 ? " (BSP)\n" : "\n");
  }
  for (int i = 0; i < mp->nbuses; ++i) {
    puts(prefix);
    puts("bus ");
    put_dec(mp->bus[i].id);
    puts(": ");
    puts(mp->bus[i].type);
    putc('\n');
  }
  for (int i = 0; i < mp->nioapics; ++i) {
    puts(prefix);
    puts("ioapic id ");
    put_dec(mp->ioapic[i].id);
    puts(" version ");
    put_hex(mp->ioapic[i].version);
    puts(" at ");
    put_hex(mp->ioapic[i].addr);
    putc('\n');
  }
  for (int i = 0; i < mp->nints; ++i) {
    const struct mp_int* e = &mp->ints[i];
    puts(prefix);
    puts(e->entry_type == MP_INT_IO ? "int " : "lint ");
    puts(int_types[e->int_type & 3]);
    puts(" bus ");
    put_dec(e->src_bus);
    puts(" irq ");
    put_dec(e->src_irq);
    puts(" flags ");
    put_hex(e->flags);
    puts(e->entry_type == MP_INT_IO ? " -> ioapic " : " -> lapic ");
    if (e->dst_id == 0xff)
      puts("all");
    else
      put_dec(e->dst_id);
    puts(" pin ");
    put_dec(e->dst_pin);
    putc('\n');
  }
}
