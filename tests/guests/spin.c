/* spin: never exits and never makes a VM exit again, for --timeout tests. */
#include "rt.h"

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  puts("spin: spinning forever\n");
  for (volatile uint64_t i = 0;; ++i) {
  }
}
