/* iobench: heavy port I/O for overhead measurements. The UART in loopback
 * mode (MCR bit 4) echoes each byte; the PIT read-back command latches
 * channel 0's status. 20,000 port accesses, then a checksum. */
#include "rt.h"

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  pit_start(100);
  outb(0x3F8 + 4, 0x10); /* MCR: loopback */
  uint64_t sum = 0;
  for (int i = 0; i < 4000; ++i) {
    outb(0x3F8, (uint8_t)i);
    sum = hash64(sum, inb(0x3F8));
    outb(0x43, 0xE2); /* read-back: status of channel 0 */
    sum = hash64(sum, inb(0x40) & 0x3F); /* mode and access bits: time-independent */
    sum = hash64(sum, inb(0x3F8 + 5) & 0x61);
  }
  outb(0x3F8 + 4, 0x00);
  puts("iobench: checksum ");
  put_hex(sum);
  puts("\n");
  return 0;
}
