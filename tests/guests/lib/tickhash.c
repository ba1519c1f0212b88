/* Shared by timerhash.c (PIT through the 8259) and timerhash_lapic.c (LAPIC
 * timer, periodic). See tickhash.h. */
#include "tickhash.h"

#define RTC_SECONDS 0x00

static volatile uint64_t counter;
static volatile uint32_t ticks;
static uint32_t ticks_at_loop_cpl;
static uint64_t hash = HASH_INIT;

void tickhash_fold(const struct frame* f, int loop_cpl, uint64_t timer_count) {
  ticks_at_loop_cpl += (int)(f->cs & 3) == loop_cpl;
  hash = hash64(hash, counter);
  hash = hash64(hash, timer_count);
  hash = hash64(hash, cmos_read(RTC_SECONDS));
  ++ticks;
}

uint64_t tickhash_spin(void) {
  while (ticks < TICKHASH_TICKS) ++counter;
  return counter;
}

int tickhash_finish(const char* name, const char* every_tick_report) {
  puts(name);
  puts(": 50 ticks, hash ");
  put_hex(hash);
  putc('\n');
  report(ticks_at_loop_cpl == ticks, every_tick_report);
  return report_summary();
}
