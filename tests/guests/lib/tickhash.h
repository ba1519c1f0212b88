/* The timerhash guests' common part: a busy loop counts until TICKHASH_TICKS
 * timer interrupts have arrived; each interrupt folds the loop counter, a
 * read of the interrupting timer's counter and the RTC seconds into a hash,
 * which depends on where the ticks land (so it differs between runs, and a
 * replay must reproduce its recording's). */
#ifndef RRVM_GUEST_TICKHASH_H
#define RRVM_GUEST_TICKHASH_H

#include "rt.h"

#define TICKHASH_TICKS 50

/* Call from the timer's interrupt handler: `timer_count` is the timer's
 * current count, read there; `loop_cpl` the ring the loop runs in. */
void tickhash_fold(const struct frame* f, int loop_cpl, uint64_t timer_count);
/* The loop (runs in ring 0 or 3; no I/O). Returns the counter. */
uint64_t tickhash_spin(void);
/* Prints "<name>: 50 ticks, hash 0x...", then report(every tick came
 * from loop_cpl, every_tick_report) and the summary; returns its value. */
int tickhash_finish(const char* name, const char* every_tick_report);

#endif
