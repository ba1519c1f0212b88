/* fault: a deliberate triple fault. With an IDT of limit 0, ud2's #UD cannot
 * be delivered (#GP), nor can that #GP (#DF), nor the #DF: the CPU shuts
 * down (SDM vol. 3A, "Double Fault Exception"). No int3: the nested hosts
 * rrvm runs on cannot emulate it in ring 0. */
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
  return EXIT_FAIL;
}
