/* timerhash: a busy loop with interrupts on; every IRQ0 (PIT mode 2, 1 kHz)
 * folds the loop counter, a PIT counter read and the RTC seconds into a hash
 * (lib/tickhash.c, shared with timerhash_lapic.c). Where each tick lands
 * depends on host timing, so two runs print different hashes, and a replay
 * must print its recording's. Built twice: with TIMERHASH_RING3 the loop
 * runs at CPL 3 and each tick enters ring 0 through the TSS's RSP0. */
#include "rt.h"
#include "tickhash.h"

#ifdef TIMERHASH_RING3
#define NAME "timerhash_ring3"
#define LOOP_CPL 3
#define LOOP_RING "ring 3"
#else
#define NAME "timerhash"
#define LOOP_CPL 0
#define LOOP_RING "ring 0"
#endif

static void on_tick(struct frame* f) {
  tickhash_fold(f, LOOP_CPL, pit_read());
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  irq_register(0, on_tick);
  pit_start(1000, 2);
  pic_unmask(0);
#ifdef TIMERHASH_RING3
  run_in_ring3(tickhash_spin); /* returns with interrupts off */
#else
  sti();
  tickhash_spin();
  cli();
#endif
  pic_mask(0);
  return tickhash_finish(NAME, "every tick interrupted " LOOP_RING);
}
