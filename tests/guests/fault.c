/* fault: a deliberate triple fault. With an IDT of limit 0, ud2 raises #UD,
 * delivering it raises #GP, then #DF, then the CPU shuts down. */
#include "rt.h"

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  puts("fault: about to triple fault\n");
  struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) empty = {0, 0};
  __asm__ volatile("lidt %0; ud2" ::"m"(empty));
  puts("fault: still alive?!\n");
  return 3;
}
