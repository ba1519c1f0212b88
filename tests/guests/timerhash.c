/* timerhash: a busy loop with interrupts on; every IRQ0 (PIT mode 2, 1 kHz)
 * folds the loop counter, a PIT counter read and the RTC seconds into a hash.
 * Where each tick lands depends on host timing, so two runs print different
 * hashes, and a replay must print its recording's. Built twice: with
 * TIMERHASH_RING3 the loop runs at CPL 3 and each tick enters ring 0 through
 * the TSS's RSP0. */
#include "rt.h"

#ifdef TIMERHASH_RING3
#define NAME "timerhash_ring3"
#define LOOP_CPL 3
#define LOOP_RING "ring 3"
#else
#define NAME "timerhash"
#define LOOP_CPL 0
#define LOOP_RING "ring 0"
#endif
#define TICKS 50
#define RTC_SECONDS 0x00

static volatile uint64_t counter;
static volatile uint32_t ticks;
static uint32_t ticks_at_loop_cpl;
static uint64_t hash = HASH_INIT;

static void on_tick(struct frame* f) {
  ticks_at_loop_cpl += (f->cs & 3) == LOOP_CPL;
  hash = hash64(hash, counter);
  hash = hash64(hash, pit_read());
  hash = hash64(hash, cmos_read(RTC_SECONDS));
  ++ticks;
}

static uint64_t spin(void) {
  while (ticks < TICKS) ++counter;
  return counter;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  irq_register(0, on_tick);
  pit_start(1000, 2);
  pic_unmask(0);
#ifdef TIMERHASH_RING3
  run_in_ring3(spin); /* returns with interrupts off */
#else
  sti();
  spin();
  cli();
#endif
  pic_mask(0);
  puts(NAME ": 50 ticks, hash ");
  put_hex(hash);
  putc('\n');
  report(ticks_at_loop_cpl == ticks, "every tick interrupted " LOOP_RING);
  return report_summary();
}
