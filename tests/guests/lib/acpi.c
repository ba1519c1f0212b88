/* ACPI table discovery (ACPI 6.5, 5.2). */
#include "acpi.h"

#include "internal.h"
#include "phys.h"

#define SDT_HEADER 36
#define AML_METHOD_OP 0x14

static uint64_t find_rsdp_in(uint64_t start, uint64_t len) {
  for (uint64_t a = start; a + 20 <= start + len; a += 16)
    if (phys_match(a, "RSD PTR ", 8) && phys_sum(a, 20) == 0) return a;
  return 0;
}

/* A system description table at `a` with signature `sig` and a valid
 * checksum; counts the bad ones. */
static int table_ok(struct acpi_info* ai, uint64_t a, const char* sig) {
  if (!a || a >= 0x100000000ull || !phys_match(a, sig, 4)) return 0;
  uint32_t len = phys_read32(a + 4);
  if (len < SDT_HEADER || len > (1u << 20) || phys_sum(a, len) != 0) {
    ++ai->bad_checksums;
    return 0;
  }
  return 1;
}

static void parse_madt(struct acpi_info* ai, uint64_t m) {
  uint32_t len = phys_read32(m + 4);
  ai->madt_lapic = phys_read32(m + 36);
  for (uint64_t p = m + 44; p + 2 <= m + len;) {
    uint8_t type = phys_read8(p), l = phys_read8(p + 1);
    if (l < 2) break;
    if (type == 0) { /* processor local APIC */
      if (ai->madt_nlapics++ == 0) ai->madt_lapic_id = phys_read8(p + 3);
    } else if (type == 1) { /* I/O APIC */
      if (ai->madt_nioapics++ == 0) {
        ai->madt_ioapic_id = phys_read8(p + 2);
        ai->madt_ioapic_addr = phys_read32(p + 4);
        ai->madt_ioapic_gsi = phys_read32(p + 8);
      }
    } else if (type == 2 && ai->nisos < ACPI_MAX_ISOS) { /* interrupt source override */
      ai->iso[ai->nisos].irq = phys_read8(p + 3);
      ai->iso[ai->nisos].gsi = phys_read32(p + 4);
      ai->iso[ai->nisos].flags = phys_read16(p + 8);
      ++ai->nisos;
    }
    p += l;
  }
}

int acpi_find(struct acpi_info* ai) {
  memset(ai, 0, sizeof *ai);
  uint64_t ebda = (uint64_t)phys_read16(0x40E) << 4;
  uint64_t rsdp = 0;
  if (ebda >= 0x80000 && ebda < 0xA0000) rsdp = find_rsdp_in(ebda, 1024);
  if (!rsdp) rsdp = find_rsdp_in(0xE0000, 0x20000);
  if (!rsdp) return 0;
  ai->rsdp = rsdp;
  ai->rsdp_rev = phys_read8(rsdp + 15);
  uint64_t rsdt = phys_read32(rsdp + 16);
  if (!table_ok(ai, rsdt, "RSDT")) return 0;
  ai->rsdt = rsdt;
  uint32_t n = (phys_read32(rsdt + 4) - SDT_HEADER) / 4;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t t = phys_read32(rsdt + SDT_HEADER + 4 * i);
    if (!ai->fadt && table_ok(ai, t, "FACP")) ai->fadt = t;
    if (!ai->madt && table_ok(ai, t, "APIC")) ai->madt = t;
    if (!ai->hpet && table_ok(ai, t, "HPET")) ai->hpet = t;
  }
  if (ai->hpet) {
    ai->hpet_block_id = phys_read32(ai->hpet + 36);
    ai->hpet_base = phys_read32(ai->hpet + 44) | (uint64_t)phys_read32(ai->hpet + 48) << 32;
  }
  if (ai->fadt) {
    ai->sci_irq = (uint8_t)phys_read16(ai->fadt + 46);
    uint64_t dsdt = phys_read32(ai->fadt + 40);
    if (table_ok(ai, dsdt, "DSDT")) {
      ai->dsdt = dsdt;
      ai->dsdt_len = phys_read32(dsdt + 4);
    }
  }
  if (ai->madt) parse_madt(ai, ai->madt);
  return 1;
}

int acpi_dsdt_has_pic_method(const struct acpi_info* ai) {
  if (!ai->dsdt) return 0;
  uint64_t end = ai->dsdt + ai->dsdt_len;
  for (uint64_t p = ai->dsdt + SDT_HEADER; p + 6 <= end; ++p) {
    if (phys_read8(p) != AML_METHOD_OP) continue;
    uint64_t q = p + 1 + 1 + (phys_read8(p + 1) >> 6); /* skip the PkgLength */
    if (q < end && phys_read8(q) == '\\') ++q;
    if (q + 4 <= end && phys_match(q, "_PIC", 4)) return 1;
  }
  return 0;
}
