/* MC146818 CMOS/RTC: index port 0x70, data port 0x71. Bit 7 of the index
 * disables NMI on PCs; the guests leave it clear. */
#include "internal.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71

uint8_t cmos_read(uint8_t reg) {
  outb(CMOS_INDEX, reg & 0x7f);
  return inb(CMOS_DATA);
}
