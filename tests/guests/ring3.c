/* ring3: a busy loop at CPL 3 (native speed even where ring 0 is emulated),
 * then back to ring 0 to report. */
#include "rt.h"

static uint64_t busy(void) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint64_t i = 0; i < 5000000; ++i) h = (h ^ i) * 0x100000001b3ull;
  return h;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  uint64_t h = run_in_ring3(busy);
  puts("ring3: hash ");
  put_hex(h);
  puts("\nring3: back in ring 0\n");
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  report((cs & 3) == 0, "running at CPL 0 again");
  return report_summary();
}
