/* timerhash: a busy loop with interrupts on; every IRQ0 (PIT, 1 kHz) folds
 * the loop counter, a PIT counter read and the RTC seconds into a hash.
 * Where each tick lands depends on host timing, so two runs print different
 * hashes; a replay must print its recording's. Built twice: with
 * TIMERHASH_RING3 the busy loop runs at CPL 3. */
#include "rt.h"

#define TICKS 50

static volatile uint64_t counter;
static volatile uint32_t ticks;
static uint64_t hash = 0xcbf29ce484222325ull;

static void on_tick(struct frame* f) {
  (void)f;
  hash = hash64(hash, counter);
  hash = hash64(hash, pit_read());
  hash = hash64(hash, cmos_read(0));
  ++ticks;
}

static uint64_t spin(void) {
  while (ticks < TICKS) ++counter;
  return counter;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  pic_remap();
  irq_register(0, on_tick);
  pit_start(1000);
  pic_unmask(0);
#ifdef TIMERHASH_RING3
  run_in_ring3(spin);
#else
  sti();
  spin();
#endif
  cli();
  puts("timerhash: ");
  put_dec(TICKS);
  puts(" ticks, hash ");
  put_hex(hash);
  puts("\n");
  return 0;
}
