/* pitpoll: a guest that takes all its time from the PIT and never spins.
 * IRQ0 at 1 kHz (PIT channel 0, mode 2, through the 8259); between ticks it
 * reads the counter 200 times with interrupts off (counter latch: three
 * port accesses each), then waits for the next tick in HLT. 100 ticks,
 * 20,000 reads, about 60,000 exits. It prints a hash of every count read,
 * so any difference in the guest time it saw shows. */
#include "rt.h"

#define TICKS 100
#define READS_PER_TICK 200
#define HZ 1000

static volatile uint32_t ticks;

static void on_tick(struct frame* f) {
  (void)f;
  ++ticks;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  puts("pitpoll: polling the PIT\n");
  irq_register(0, on_tick);
  pit_start(HZ, 2);
  pic_unmask(0);
  uint64_t sum = HASH_INIT;
  int in_range = 1;
  for (;;) {
    cli();
    if (ticks >= TICKS) break;
    for (int i = 0; i < READS_PER_TICK; ++i) {
      uint16_t count = pit_read();
      in_range &= count <= pit_reload();
      sum = hash64(sum, count);
    }
    sti_hlt();
  }
  pic_mask(0);
  puts("pitpoll: 100 ticks, 20000 counter reads, hash ");
  put_hex(sum);
  putc('\n');
  report(in_range, "counter reads within [0, reload]");
  return report_summary();
}
