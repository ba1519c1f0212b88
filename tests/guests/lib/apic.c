/* Local APIC and I/O APIC access (SDM vol. 3A, chapter 11; 82093AA
 * datasheet: IOREGSEL at +0x00, IOWIN at +0x10, redirection entry n at
 * registers 0x10 + 2n (low) and 0x11 + 2n (high)). */
#include "apic.h"

#include "internal.h"
#include "phys.h"

#define SVR_ENABLE 0x100u
#define ICR_SELF 0x40000u /* destination shorthand 01 */
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REDIR 0x10

static uint64_t lapic = LAPIC_DEFAULT_BASE;

void lapic_set_base(uint64_t base) {
  lapic = base;
}
uint64_t lapic_base(void) {
  return lapic;
}
uint32_t lapic_read(uint32_t reg) {
  return phys_read32(lapic + reg);
}
void lapic_write(uint32_t reg, uint32_t v) {
  phys_write32(lapic + reg, v);
}
uint32_t lapic_id(void) {
  return lapic_read(LAPIC_ID) >> 24;
}

void lapic_enable(void) {
  lapic_write(LAPIC_TPR, 0);
  lapic_write(LAPIC_LVT_LINT0, LVT_MASKED | LVT_DELIVERY_EXTINT);
  lapic_write(LAPIC_LVT_LINT1, LVT_DELIVERY_NMI);
  lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
  lapic_write(LAPIC_SVR, SVR_ENABLE | VEC_APIC_SPURIOUS);
}

/* In x2APIC mode the registers are MSRs 0x800 + (offset >> 4) (SDM vol. 3A,
 * 11.12.1.2) and the MMIO page is not decoded. */
static int x2apic_mode;

void lapic_x2apic_mode(int on) {
  x2apic_mode = on;
}

void lapic_eoi(void) {
  if (x2apic_mode)
    wrmsr(0x800 + (LAPIC_EOI >> 4), 0);
  else
    lapic_write(LAPIC_EOI, 0);
}

void lapic_timer_start(uint8_t vector, uint32_t initial, int periodic, uint32_t divide) {
  lapic_write(LAPIC_TIMER_DIVIDE, divide);
  lapic_write(LAPIC_LVT_TIMER, vector | (periodic ? LVT_TIMER_PERIODIC : 0));
  lapic_write(LAPIC_TIMER_INITIAL, initial); /* starts the count */
}

void lapic_timer_stop(void) {
  lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
  lapic_write(LAPIC_TIMER_INITIAL, 0);
}

uint32_t lapic_timer_current(void) {
  return lapic_read(LAPIC_TIMER_CURRENT);
}

void lapic_self_ipi(uint8_t vector) {
  lapic_write(LAPIC_ICR_HIGH, 0);
  lapic_write(LAPIC_ICR_LOW, ICR_SELF | vector);
}

uint32_t ioapic_read(uint64_t base, uint32_t reg) {
  phys_write32(base, reg);
  return phys_read32(base + 0x10);
}
void ioapic_write(uint64_t base, uint32_t reg, uint32_t v) {
  phys_write32(base, reg);
  phys_write32(base + 0x10, v);
}
uint8_t ioapic_id(uint64_t base) {
  return (ioapic_read(base, IOAPIC_REG_ID) >> 24) & 0x0f;
}
int ioapic_pins(uint64_t base) {
  return ((ioapic_read(base, IOAPIC_REG_VER) >> 16) & 0xff) + 1;
}

void ioapic_route(uint64_t base, int pin, uint8_t vector, uint32_t flags, uint8_t dest) {
  ioapic_write(base, IOAPIC_REDIR + 2 * pin, IOAPIC_MASKED);
  ioapic_write(base, IOAPIC_REDIR + 2 * pin + 1, (uint32_t)dest << 24);
  ioapic_write(base, IOAPIC_REDIR + 2 * pin, vector | (flags & (IOAPIC_ACTIVE_LOW | IOAPIC_LEVEL)));
}

void ioapic_mask(uint64_t base, int pin) {
  ioapic_write(base, IOAPIC_REDIR + 2 * pin, IOAPIC_MASKED);
}

uint32_t ioapic_flags_from_mp(uint16_t mp_flags, int is_pci) {
  uint32_t pol = mp_flags & 3, trig = (mp_flags >> 2) & 3, f = 0;
  if (pol == 3 || (pol == 0 && is_pci)) f |= IOAPIC_ACTIVE_LOW;
  if (trig == 3 || (trig == 0 && is_pci)) f |= IOAPIC_LEVEL;
  return f;
}

void imcr_apic_mode(void) {
  outb(0x22, 0x70);
  outb(0x23, 0x01);
}
