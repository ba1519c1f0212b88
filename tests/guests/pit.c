/* pit: IRQ0 at 1 kHz through the 8259, HLT-driven. Counts 100 ticks and
 * checks that PIT counter reads between ticks stay within the reload value. */
#include "rt.h"

static volatile uint32_t ticks;

static void on_tick(struct frame* f) {
  (void)f;
  ++ticks;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  pic_remap();
  irq_register(0, on_tick);
  pit_start(1000);
  pic_unmask(0);
  int counts_ok = 1;
  while (ticks < 100) {
    uint16_t c = pit_read();
    if (c > pit_reload()) counts_ok = 0;
    sti_hlt();
  }
  cli();
  puts("pit: 100 ticks\n");
  report(counts_ok, "counter reads within [0, reload]");
  return report_summary();
}
