/* spin: prints one line, then loops forever with interrupts off and no
 * further VM exit, for the VMM's --timeout tests. */
#include "rt.h"

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  puts("spin: spinning forever\n");
  for (volatile uint64_t i = 0;; ++i) {
  }
}
