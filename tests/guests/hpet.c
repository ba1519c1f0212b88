/* hpet: the IA-PC HPET as an OS finds and drives it. The ACPI HPET table
 * names the timer block and its GCAP_ID; the main counter counts while
 * enabled and holds while halted; and three timers interrupt the CPU in HLT
 * through the I/O APIC: timer 2 one-shot (edge) on the highest input its
 * INT_ROUTE_CAP offers, timer 0 periodic in LegacyReplacement mode on IRQ0's
 * input (pin 2), timer 1 level-triggered on the next input down, its handler
 * clearing GINTR_STA before the EOI. No interrupt may come before its
 * comparator (the handler reads the counter). Without an HPET table it says so and passes. The
 * output carries no counter value or pin number, so it is the same on any HPET. */
#include "acpi.h"
#include "apic.h"
#include "phys.h"
#include "rt.h"

#define GCAP_ID 0x000
#define GEN_CONF 0x010
#define GINTR_STA 0x020
#define MAIN_CNT 0x0F0
#define TN_CONF(n) (0x100 + 0x20 * (n))
#define TN_CMP(n) (0x108 + 0x20 * (n))

#define ENABLE_CNF 1u
#define LEG_RT_CNF 2u
#define LEG_RT_CAP (1u << 15)
#define TN_INT_TYPE_LEVEL (1u << 1)
#define TN_INT_ENB (1u << 2)
#define TN_PERIODIC (1u << 3)
#define TN_VAL_SET (1u << 6)
#define TN_32BIT (1u << 8)
#define TN_ROUTE(pin) ((uint64_t)(pin) << 9)

#define VEC_ONESHOT 0x33
#define VEC_PERIODIC 0x34
#define VEC_LEVEL 0x35
#define PERIODIC_TICKS 10

static struct acpi_info acpi;
static uint64_t base;
static uint64_t one_ms; /* counter ticks per millisecond */

static uint64_t rd(uint32_t reg) {
  return *(volatile uint64_t*)phys(base + reg);
}
static void wr(uint32_t reg, uint64_t v) {
  *(volatile uint64_t*)phys(base + reg) = v;
}
static void wr32(uint32_t reg, uint32_t v) {
  phys_write32(base + reg, v);
}

static volatile uint32_t oneshots, periodic_ticks, levels, level_status_seen;
static volatile uint32_t early_oneshot, early_periodic, early_level;
static volatile uint64_t oneshot_due, periodic_start, level_due;

static void on_oneshot(struct frame* f) {
  (void)f;
  if (rd(MAIN_CNT) < oneshot_due) ++early_oneshot;
  ++oneshots;
}

static void on_periodic(struct frame* f) {
  (void)f;
  uint32_t n = ++periodic_ticks;
  if (rd(MAIN_CNT) < periodic_start + n * one_ms) ++early_periodic;
}

static void on_level(struct frame* f) {
  (void)f;
  if (rd(MAIN_CNT) < level_due) ++early_level;
  uint64_t sta = rd(GINTR_STA);
  if (sta & 2) ++level_status_seen;
  wr(GINTR_STA, 2); /* before the EOI, or the I/O APIC delivers again */
  ++levels;
}

/* Waits in HLT for *count to reach n: the timer's deadline wakes the CPU. */
static void wait_for(volatile uint32_t* count, uint32_t n) {
  for (;;) {
    cli();
    if (*count >= n) break;
    sti_hlt();
  }
}

/* Polls the counter with interrupts enabled until it passes `ms` more
 * milliseconds: time for an interrupt that should not come. */
static void spin_ms(uint64_t ms) {
  uint64_t until = rd(MAIN_CNT) + ms * one_ms;
  sti();
  while (rd(MAIN_CNT) < until) {
  }
  cli();
}

/* The highest I/O APIC input below `below` that INT_ROUTE_CAP offers. */
static int route_below(int timer, int below) {
  uint32_t cap = (uint32_t)(rd(TN_CONF(timer)) >> 32);
  for (int pin = below - 1; pin >= 0; --pin)
    if (cap >> pin & 1) return pin;
  return -1;
}

static void counter(void) {
  wr(GEN_CONF, 0);
  wr(MAIN_CNT, 0);
  report(rd(MAIN_CNT) == 0 && rd(MAIN_CNT) == 0, "halted main counter holds its value");
  wr(GEN_CONF, ENABLE_CNF);
  uint64_t a = rd(MAIN_CNT), b = rd(MAIN_CNT);
  report(b > a, "enabled main counter counts up");
  wr(GEN_CONF, 0);
}

static void oneshot(int pin) {
  ioapic_route(IOAPIC_DEFAULT_BASE, pin, VEC_ONESHOT, 0, lapic_id());
  wr(TN_CONF(2), TN_ROUTE(pin) | TN_INT_ENB);
  wr(GEN_CONF, ENABLE_CNF);
  oneshot_due = rd(MAIN_CNT) + one_ms;
  wr(TN_CMP(2), oneshot_due);
  wait_for(&oneshots, 1);
  spin_ms(2);
  report(oneshots == 1, "one-shot timer: one interrupt through the I/O APIC");
  report(!early_oneshot, "one-shot timer: not before its comparator");
  wr(TN_CONF(2), 0);
  wr(GEN_CONF, 0);
}

/* Linux's hpet_set_periodic, with its 32-bit accesses: 32-bit mode,
 * Tn_VAL_SET_CNF, the comparator, then the period. (A single 64-bit write
 * with Tn_VAL_SET_CNF sets the whole comparator on rrvm and on hardware
 * that takes 64-bit writes whole, but not on QEMU, which splits it.) */
static void periodic(void) {
  wr(GEN_CONF, LEG_RT_CNF); /* IRQ0 is the HPET's from here: no PIT edge on pin 2 */
  wr32(TN_CONF(0), TN_INT_ENB | TN_PERIODIC | TN_VAL_SET | TN_32BIT);
  periodic_start = rd(MAIN_CNT);
  wr32(TN_CMP(0), (uint32_t)(periodic_start + one_ms));
  wr32(TN_CMP(0), (uint32_t)one_ms);
  ioapic_route(IOAPIC_DEFAULT_BASE, 2, VEC_PERIODIC, 0, lapic_id());
  wr(GEN_CONF, ENABLE_CNF | LEG_RT_CNF);
  wait_for(&periodic_ticks, PERIODIC_TICKS);
  wr(TN_CONF(0), 0);
  wr(GEN_CONF, 0);
  ioapic_mask(IOAPIC_DEFAULT_BASE, 2);
  report(periodic_ticks == PERIODIC_TICKS,
         "periodic timer 0 in LegacyReplacement mode: 10 interrupts on IRQ0's input");
  report(!early_periodic, "periodic timer: none before its comparator");
}

static void level(int pin) {
  ioapic_route(IOAPIC_DEFAULT_BASE, pin, VEC_LEVEL, IOAPIC_LEVEL, lapic_id());
  wr(TN_CONF(1), TN_ROUTE(pin) | TN_INT_ENB | TN_INT_TYPE_LEVEL);
  wr(GEN_CONF, ENABLE_CNF);
  level_due = rd(MAIN_CNT) + one_ms;
  wr(TN_CMP(1), level_due);
  wait_for(&levels, 1);
  spin_ms(2);
  report(levels == 1 && level_status_seen == 1,
         "level-triggered timer: one interrupt, GINTR_STA set until cleared");
  report(!early_level, "level-triggered timer: not before its comparator");
  report(rd(GINTR_STA) == 0, "GINTR_STA clear after write-1-to-clear");
  wr(TN_CONF(1), 0);
  wr(GEN_CONF, 0);
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  if (!acpi_find(&acpi) || !acpi.hpet) {
    puts("hpet: no ACPI HPET table\n");
    return report_summary();
  }
  base = acpi.hpet_base;
  uint64_t cap = rd(GCAP_ID);
  report(base == 0xFED00000u, "ACPI HPET table: timer block at 0xfed00000");
  report(acpi.hpet_block_id == (uint32_t)cap, "ACPI block ID is GCAP_ID bits 31:0");
  report((cap >> 8 & 0x1f) >= 2 && (cap & LEG_RT_CAP), "3 or more timers, LegacyReplacement");
  uint32_t period_fs = (uint32_t)(cap >> 32);
  report(period_fs > 0 && period_fs <= 100000000u, "COUNTER_CLK_PERIOD within 0 .. 100 ns");
  one_ms = 1000000000000ull / period_fs;

  lapic_set_base(LAPIC_DEFAULT_BASE);
  lapic_enable();
  vector_register(VEC_ONESHOT, on_oneshot);
  vector_register(VEC_PERIODIC, on_periodic);
  vector_register(VEC_LEVEL, on_level);
  int high = route_below(2, 32), next = route_below(1, high);
  report(high >= 16 && next >= 16, "two I/O APIC inputs of 16 or above to route to");
  counter();
  if (high >= 16 && next >= 16) {
    oneshot(high);
    periodic();
    level(next);
  }
  return report_summary();
}
