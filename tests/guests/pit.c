/* pit: IRQ0 at 1 kHz from PIT channel 0 (mode 2) through the 8259, driven by
 * HLT. Counts 100 ticks; between ticks reads the counter with the latch
 * command, and each read must lie in [0, reload] (8254 datasheet, mode 2
 * counts reload..1). Also checks the read-back status byte. */
#include "rt.h"

#define TICKS 100
#define HZ 1000

static volatile uint32_t ticks;

static void on_tick(struct frame* f) {
  (void)f;
  ++ticks;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  irq_register(0, on_tick);
  pit_start(HZ, 2);
  pic_unmask(0);
  int counts_ok = 1;
  for (;;) {
    cli();
    if (ticks >= TICKS) break;
    if (pit_read() > pit_reload()) counts_ok = 0;
    sti_hlt();
  }
  pic_mask(0);
  puts("pit: 100 ticks\n");
  report(counts_ok, "counter reads within [0, reload]");
  /* Status: OUT, NULL COUNT, then RW = 11 (LSB, MSB), M = 010, binary. */
  report((pit_status() & 0x3f) == 0x34, "read-back status: lsb/msb, mode 2, binary");
  return report_summary();
}
