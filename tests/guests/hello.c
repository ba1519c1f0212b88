/* hello: the smallest guest. Checks the Multiboot hand-over, prints, exits 0. */
#include "rt.h"

int main(uint32_t magic, struct mb_info* info) {
  puts("hello from rrvm guest\n");
  report(magic == 0x2BADB002, "multiboot magic in eax");
  report((info->flags & 1) && info->mem_lower >= 600, "mem_lower reported");
  report((info->flags & 1) && info->mem_upper >= 1024, "mem_upper reported");
  if (info->flags & 4) {
    puts("cmdline: ");
    puts((const char*)(uint64_t)info->cmdline);
    puts("\n");
  }
  return report_summary();
}
