/* timerhash_lapic: timerhash (lib/tickhash.c) with the tick from the local
 * APIC timer instead of the PIT through the 8259: LVT timer periodic on
 * vector 0x32, divide by 16, initial count 62500 (1 kHz if the APIC bus
 * clock is 1 GHz, as in KVM, QEMU and rrvm; nothing here depends on the
 * rate). Each tick folds the loop counter, the LAPIC current-count register
 * and the RTC seconds into the hash. The LAPIC is at its architectural
 * address (SDM vol. 3A, 11.4.1); the 8259 inputs stay masked. */
#include "apic.h"
#include "rt.h"
#include "tickhash.h"

#define VEC_TIMER 0x32
#define DIVIDE_BY_16 0x3
#define INITIAL_COUNT 62500

static void on_tick(struct frame* f) {
  tickhash_fold(f, 0, lapic_timer_current());
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  vector_register(VEC_TIMER, on_tick);
  lapic_set_base(LAPIC_DEFAULT_BASE);
  lapic_enable();
  lapic_timer_start(VEC_TIMER, INITIAL_COUNT, 1, DIVIDE_BY_16);
  sti();
  tickhash_spin();
  cli();
  lapic_timer_stop();
  return tickhash_finish("timerhash_lapic", "every tick interrupted ring 0");
}
