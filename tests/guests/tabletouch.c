/* tabletouch: reads the MP configuration table's length the long way round, so that
 * bisecting `--mptable kvm84` against `fixed` takes several rounds of
 * bisect's run to the differing memory (replay/first_touch.h):
 *  - a test of the two top bits of the table length's low byte (0xd8 vs
 *    0xe0 or 0xe8: the same flags for both tables, so the registers do not
 *    differ after it);
 *  - a copy of the header's first 8 bytes into RAM (the length and the
 *    checksum differ: the copy then differs too, a page that did not);
 *  - the load of the length from the copy, at the global label
 *    `tabletouch_load`, where the registers first differ.
 * The floating pointer, which both tables share, is found by a plain scan
 * of 0xF0000-0xFFFFF (MP spec 1.4, 4.1). */
#include "phys.h"
#include "rt.h"

static uint8_t copy[4096] __attribute__((aligned(4096)));  // a page of its own

int main(uint32_t magic, struct mb_info* info) {
  (void)magic;
  (void)info;
  uint64_t fp = 0;
  for (uint64_t a = 0xF0000; a < 0x100000 && !fp; a += 16)
    if (phys_match(a, "_MP_", 4)) fp = a;
  if (!fp) {
    puts("no MP floating pointer\n");
    return EXIT_FAIL;
  }
  uint64_t table = phys_read32(fp + 4);
  uint32_t len;
  __asm__ volatile(
      "testb $0xc0, 4(%[t])\n\t"
      "mov %[t], %%rsi\n\t"
      "lea %[copy], %%rdi\n\t"
      "mov $8, %%ecx\n\t"
      "rep movsb\n\t"
      ".globl tabletouch_load\n"
      "tabletouch_load:\n\t"
      "movzwl 4+%[copy], %[len]"
      : [len] "=r"(len), [copy] "+m"(copy)
      : [t] "r"(table)
      : "rsi", "rdi", "rcx", "cc", "memory");
  puts("MP table length ");
  put_hex(len);
  puts("\n");
  return EXIT_PASS;
}
