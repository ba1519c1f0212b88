/* ring3: a busy loop at CPL 3 (native speed on hosts that emulate ring 0),
 * then back to ring 0 through the DPL-3 `int $0x80` gate to report. */
#include "rt.h"

#define ITERATIONS 5000000

static volatile uint16_t loop_cs;

static uint64_t busy(void) {
  loop_cs = read_cs();
  uint64_t h = HASH_INIT;
  for (uint64_t i = 0; i < ITERATIONS; ++i) h = (h ^ i) * 0x100000001b3ull;
  return h;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  uint64_t h = run_in_ring3(busy);
  puts("ring3: hash ");
  put_hex(h);
  puts("\nring3: back in ring 0\n");
  report((loop_cs & 3) == 3, "busy loop ran at CPL 3");
  report((read_cs() & 3) == 0, "running at CPL 0 again");
  return report_summary();
}
