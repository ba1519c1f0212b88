/* platform: discovers the PC the way an OS does and checks that what the
 * firmware tables promise is what the hardware does.
 * - MP table (Intel MP spec 1.4): floating pointer in the EBDA, the last KiB
 *   of base memory or the BIOS ROM; buses, I/O APICs, interrupt entries.
 * - PCI bus 0 through configuration mechanism #1: IDs, class, BARs (sized),
 *   and for each interrupt pin the MP-table route, or NetBSD's complaint when
 *   the table has no PCI bus.
 * - ACPI: RSDP -> RSDT -> FADT -> DSDT (is there a _PIC method?) and MADT.
 * - Switches to APIC mode (8259s masked, IMCR if present, LAPIC enabled via
 *   the SVR) and takes PIT interrupts through IOAPIC -> LAPIC, one LAPIC
 *   timer one-shot and one self-IPI, all EOI'd.
 * Waits are bounded by PIT periods counted by polling the PIT counter, so a
 * missing interrupt gives a FAIL line, never a hang. Output has no timing
 * numbers: it is the same on every run of one configuration. */
#include "acpi.h"
#include "apic.h"
#include "mptable.h"
#include "pci.h"
#include "rt.h"

#define VEC_PIT 0x30
#define VEC_LAPIC_TIMER 0x32
#define VEC_SELF_IPI 0x33
#define PIT_IRQS_WANTED 10
#define DIVIDE_BY_1 0xB

static struct mp_info mp;
static struct acpi_info acpi;
static volatile uint32_t pit_irqs, timer_irqs, ipi_irqs;

static void on_pit(struct frame* f) {
  (void)f;
  ++pit_irqs;
}
static void on_timer(struct frame* f) {
  (void)f;
  ++timer_irqs;
}
static void on_ipi(struct frame* f) {
  (void)f;
  ++ipi_irqs;
}

static void put_hex2(unsigned v, int digits) {
  static const char hex[] = "0123456789abcdef";
  while (digits--) putc(hex[(v >> (4 * digits)) & 15]);
}

static void put_bdf(int bus, int dev, int fn) {
  put_hex2((unsigned)bus, 2);
  putc(':');
  put_hex2((unsigned)dev, 2);
  putc('.');
  put_dec((uint64_t)fn);
}

/* Polls the PIT (mode 2 at 1 kHz, running from the start of main) with
 * interrupts enabled until *counter >= want or `periods` PIT periods have
 * gone by. Returns *counter. */
static uint32_t wait_for(volatile uint32_t* counter, uint32_t want, uint32_t periods) {
  uint16_t last = pit_read();
  sti();
  while (*counter < want && periods) {
    uint16_t now = pit_read();
    if (now > last) --periods; /* reloaded: one period gone */
    last = now;
  }
  cli();
  return *counter;
}

static void scan_mp(void) {
  if (!mp_find(&mp)) {
    if (mp.fp_addr) {
      puts("mp: floating pointer at ");
      put_hex(mp.fp_addr);
      puts(", table unusable: ");
      puts(mp.error);
      putc('\n');
    } else {
      puts("mp: no MP floating pointer\n");
    }
    return;
  }
  puts("mp: floating pointer at ");
  put_hex(mp.fp_addr);
  puts(", spec 1.");
  put_dec(mp.spec_rev);
  puts(", config table at ");
  put_hex(mp.table_addr);
  puts(", ");
  put_dec(mp.entries);
  puts(" entries, local APIC at ");
  put_hex(mp.lapic_addr);
  putc('\n');
  mp_print(&mp, "mp: ");
}

static void print_route(int bus, int dev, int pin) {
  if (!mp.table_addr) {
    puts("no PCI interrupt routing (no MP table)\n");
    return;
  }
  const struct mp_int* e = 0;
  switch (mp_route_pci(&mp, bus, dev, pin, &e)) {
    case MP_ROUTE_OK:
      puts("ioapic ");
      put_dec(e->dst_id);
      puts(" pin ");
      put_dec(e->dst_pin);
      puts(" flags ");
      put_hex(e->flags);
      putc('\n');
      break;
    case MP_ROUTE_NO_BUS:
      puts("no PCI interrupt routing (no PCI bus in MP table)\n");
      break;
    default:
      puts("no MP mapping for this pin\n");
      break;
  }
}

/* PCI 3.0, 6.2.5.1: write all ones, read back the size mask, restore; with
 * I/O and memory decoding off meanwhile, as OSes do. */
static void print_bars(int bus, int dev, int fn) {
  uint16_t cmd = pci_read16(bus, dev, fn, PCI_COMMAND);
  pci_write16(bus, dev, fn, PCI_COMMAND, cmd & ~3u);
  for (int i = 0; i < 6; ++i) {
    int off = PCI_BAR0 + 4 * i;
    uint32_t bar = pci_read32(bus, dev, fn, off);
    pci_write32(bus, dev, fn, off, 0xFFFFFFFFu);
    uint32_t mask = pci_read32(bus, dev, fn, off);
    pci_write32(bus, dev, fn, off, bar);
    if (!mask) continue;
    int io = bar & 1, is64 = !io && ((bar >> 1) & 3) == 2;
    uint64_t addr = io ? bar & ~3u : bar & ~15u;
    uint64_t size = io ? (~(mask & ~3u) & 0xFFFF) + 1 : (uint64_t)(~(mask & ~15u)) + 1;
    if (is64 && i < 5) {
      addr |= (uint64_t)pci_read32(bus, dev, fn, off + 4) << 32;
      ++i;
    }
    puts("pci ");
    put_bdf(bus, dev, fn);
    puts(" bar");
    put_dec((uint64_t)(is64 ? i - 1 : i));
    puts(io ? " io " : is64 ? " mem64 " : " mem ");
    put_hex(addr);
    puts(" size ");
    put_hex(size);
    putc('\n');
  }
  pci_write16(bus, dev, fn, PCI_COMMAND, cmd);
}

static void scan_pci(void) {
  for (int dev = 0; dev < 32; ++dev) {
    int nfn = 1;
    for (int fn = 0; fn < nfn; ++fn) {
      uint16_t vendor = pci_read16(0, dev, fn, PCI_VENDOR);
      if (vendor == 0xFFFF) continue;
      uint8_t hdr = pci_read8(0, dev, fn, PCI_HEADER_TYPE);
      if (fn == 0 && (hdr & 0x80)) nfn = 8;
      uint32_t class_rev = pci_read32(0, dev, fn, PCI_REVISION);
      puts("pci ");
      put_bdf(0, dev, fn);
      putc(' ');
      put_hex2(vendor, 4);
      putc(':');
      put_hex2(pci_read16(0, dev, fn, PCI_DEVICE), 4);
      puts(" rev ");
      put_hex(class_rev & 0xff);
      puts(" class ");
      put_hex2(class_rev >> 8, 6);
      putc('\n');
      if ((hdr & 0x7f) == 0) print_bars(0, dev, fn);
      uint8_t pin = pci_read8(0, dev, fn, PCI_INTERRUPT_PIN);
      if (pin >= 1 && pin <= 4) {
        puts("pci ");
        put_bdf(0, dev, fn);
        puts(" INT");
        putc((char)('A' + pin - 1));
        puts(" line ");
        put_dec(pci_read8(0, dev, fn, PCI_INTERRUPT_LINE));
        puts(": ");
        print_route(0, dev, pin);
      }
    }
  }
}

static void scan_acpi(void) {
  if (!acpi_find(&acpi)) {
    puts(acpi.rsdp ? "acpi: RSDP without a valid RSDT\n" : "acpi: no RSDP\n");
    return;
  }
  puts("acpi: RSDP at ");
  put_hex(acpi.rsdp);
  puts(" rev ");
  put_dec(acpi.rsdp_rev);
  puts(", RSDT at ");
  put_hex(acpi.rsdt);
  putc('\n');
  if (acpi.fadt) {
    puts("acpi: FACP at ");
    put_hex(acpi.fadt);
    puts(", SCI irq ");
    put_dec(acpi.sci_irq);
    putc('\n');
  }
  if (acpi.dsdt) {
    puts("acpi: DSDT at ");
    put_hex(acpi.dsdt);
    puts(", ");
    put_dec(acpi.dsdt_len);
    puts(" bytes, ");
    puts(acpi_dsdt_has_pic_method(&acpi) ? "_PIC method present\n" : "no _PIC method\n");
  } else {
    puts("acpi: no DSDT\n");
  }
  if (acpi.madt) {
    puts("acpi: MADT at ");
    put_hex(acpi.madt);
    puts(", local APIC at ");
    put_hex(acpi.madt_lapic);
    puts(", ");
    put_dec((uint64_t)acpi.madt_nlapics);
    puts(" cpu, ioapic id ");
    put_dec(acpi.madt_ioapic_id);
    puts(" at ");
    put_hex(acpi.madt_ioapic_addr);
    puts(" gsi ");
    put_dec(acpi.madt_ioapic_gsi);
    putc('\n');
    for (int i = 0; i < acpi.nisos; ++i) {
      puts("acpi: override irq ");
      put_dec(acpi.iso[i].irq);
      puts(" -> gsi ");
      put_dec(acpi.iso[i].gsi);
      puts(" flags ");
      put_hex(acpi.iso[i].flags);
      putc('\n');
    }
  }
  report(acpi.bad_checksums == 0, "ACPI table checksums");
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  scan_mp();
  scan_pci();
  scan_acpi();

  /* Where the APICs are: the MP table, else the MADT, else the defaults. */
  uint64_t ioapic = IOAPIC_DEFAULT_BASE, lapic = LAPIC_DEFAULT_BASE;
  const char* source = "defaults";
  if (mp.table_addr && mp.nioapics) {
    ioapic = mp.ioapic[0].addr, lapic = mp.lapic_addr, source = "MP table";
  } else if (acpi.madt && acpi.madt_nioapics) {
    ioapic = acpi.madt_ioapic_addr, lapic = acpi.madt_lapic, source = "MADT";
  }
  lapic_set_base(lapic);
  uint8_t ioapic_reg_id = ioapic_id(ioapic);
  puts("ioapic: at ");
  put_hex(ioapic);
  puts(" (");
  puts(source);
  puts("), id ");
  put_dec(ioapic_reg_id);
  puts(", ");
  put_dec((uint64_t)ioapic_pins(ioapic));
  puts(" pins\n");
  puts("lapic: at ");
  put_hex(lapic);
  puts(", id ");
  put_dec(lapic_id());
  puts(", version ");
  put_hex(lapic_read(LAPIC_VERSION) & 0xff);
  putc('\n');
  if (mp.table_addr) {
    report(mp.nioapics == 1 && ioapic_reg_id == mp.ioapic[0].id,
           "IOAPIC ID register matches the MP table");
    int bsp_ok = 0;
    for (int i = 0; i < mp.ncpus; ++i)
      if ((mp.cpu[i].flags & 2) && mp.cpu[i].apic_id == lapic_id()) bsp_ok = 1;
    report(bsp_ok, "LAPIC ID matches the MP table's BSP");
  }
  if (acpi.madt) {
    report(acpi.madt_nioapics == 1 && acpi.madt_ioapic_id == ioapic_reg_id &&
               acpi.madt_ioapic_addr == ioapic,
           "IOAPIC ID and address match the MADT");
    report(acpi.madt_lapic == lapic && acpi.madt_lapic_id == lapic_id(), "LAPIC matches the MADT");
  }

  /* APIC mode: 8259 inputs off, IMCR (MP spec 3.6.2.1) if present. */
  outb(0x21, 0xFF);
  outb(0xA1, 0xFF);
  if (mp.table_addr && (mp.features2 & 0x80)) imcr_apic_mode();
  int pins = ioapic_pins(ioapic);
  for (int p = 0; p < pins; ++p) ioapic_mask(ioapic, p);
  lapic_enable();
  vector_register(VEC_PIT, on_pit);
  vector_register(VEC_LAPIC_TIMER, on_timer);
  vector_register(VEC_SELF_IPI, on_ipi);

  /* The PIT (ISA IRQ 0) pin: MP table, else the MADT override, else 2. */
  int pit_pin = 2;
  uint32_t pit_flags = 0;
  const char* pit_source = "default";
  const struct mp_int* e = 0;
  if (mp.table_addr && mp_route_isa(&mp, 0, &e) == MP_ROUTE_OK) {
    pit_pin = e->dst_pin, pit_flags = ioapic_flags_from_mp(e->flags, 0), pit_source = "MP table";
  } else if (acpi.madt) {
    for (int i = 0; i < acpi.nisos; ++i)
      if (acpi.iso[i].irq == 0) {
        pit_pin = (int)(acpi.iso[i].gsi - acpi.madt_ioapic_gsi);
        pit_flags = ioapic_flags_from_mp(acpi.iso[i].flags, 0);
        pit_source = "MADT";
      }
  }
  puts("apic: PIT (ISA IRQ 0) -> ioapic pin ");
  put_dec((uint64_t)pit_pin);
  puts(" (");
  puts(pit_source);
  puts(") -> vector ");
  put_hex(VEC_PIT);
  putc('\n');
  pit_start(1000, 2);
  ioapic_route(ioapic, pit_pin, VEC_PIT, pit_flags, (uint8_t)lapic_id());
  report(wait_for(&pit_irqs, PIT_IRQS_WANTED, 200) >= PIT_IRQS_WANTED,
         "10 PIT interrupts through IOAPIC and LAPIC");
  ioapic_mask(ioapic, pit_pin);

  lapic_timer_start(VEC_LAPIC_TIMER, 100000, 0, DIVIDE_BY_1);
  wait_for(&timer_irqs, 1, 20);
  wait_for(&timer_irqs, 2, 5); /* a one-shot must not fire again */
  report(timer_irqs == 1 && lapic_timer_current() == 0, "LAPIC timer one-shot: one interrupt");
  lapic_timer_stop();

  lapic_self_ipi(VEC_SELF_IPI);
  report(wait_for(&ipi_irqs, 1, 20) == 1, "self-IPI: one interrupt");
  report(apic_spurious_count() == 0, "no spurious APIC interrupts");
  return report_summary();
}
