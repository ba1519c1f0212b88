/* hello: the smallest guest. Prints a greeting and checks the Multiboot
 * hand-over (spec 0.6.96, 3.2-3.3): the magic in EAX, the memory sizes, and
 * the command line if the loader passed one. */
#include "rt.h"

int main(uint32_t magic, struct mb_info* info) {
  puts("hello from rrvm guest\n");
  int ok = magic == MB_BOOTLOADER_MAGIC;
  report(ok, "multiboot magic in eax");
  int mem = ok && (info->flags & MB_INFO_MEM);
  /* Lower memory starts at 0 and is at most 640 KiB; upper memory starts at
   * 1 MiB, and we were loaded there. */
  report(mem && info->mem_lower >= 600 && info->mem_lower <= 640, "mem_lower reported");
  report(mem && info->mem_upper >= 1024, "mem_upper reported");
  if (ok && (info->flags & MB_INFO_CMDLINE) && info->cmdline) {
    puts("cmdline: ");
    puts((const char*)(uint64_t)info->cmdline);
    putc('\n');
  }
  return report_summary();
}
