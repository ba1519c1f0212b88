/* diverge: built to part at a known instruction. It reads the RTC seconds
 * register and branches on the low bit. Two executions that read different
 * values part at the global label `diverge_read` (the IN instruction): the
 * bisect tests check rrvm bisect against this symbol. */
#include "io.h"
#include "rt.h"

int main(uint32_t magic, struct mb_info* info) {
  (void)magic;
  (void)info;
  uint8_t v;
  outb(0x70, 0x00); /* CMOS index 0: seconds (MC146818A, register 0) */
  __asm__ volatile(
      ".globl diverge_read\n"
      "diverge_read:\n\t"
      "inb $0x71, %0"
      : "=a"(v));
  puts((v & 1) ? "odd second\n" : "even second\n");
  return 0;
}
