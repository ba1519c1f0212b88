/* 8254 PIT channel 0 (Intel 8254 datasheet: control word, counter latch and
 * read-back commands). Input clock 1.193182 MHz. */
#include "internal.h"

#define PIT_CH0 0x40
#define PIT_CMD 0x43

/* Control word: SC1 SC0 | RW1 RW0 | M2 M1 M0 | BCD */
#define CW_CH0 0x00
#define CW_LATCH 0x00 /* RW = 00: counter latch command */
#define CW_LSB_MSB 0x30
#define CW_MODE(m) ((m) << 1)
/* Read-back: 11 | /COUNT | /STATUS | CNT2 CNT1 CNT0 | 0 (bits active low) */
#define RB_CMD 0xC0
#define RB_NO_COUNT 0x20
#define RB_CNT0 0x02

static uint16_t reload;

void pit_start(uint32_t hz, int mode) {
  uint32_t count = hz ? (PIT_HZ + hz / 2) / hz : 0x10000;
  if (count < 2) count = 2;      /* modes 2 and 3 need N >= 2 */
  if (count > 0xFFFF) count = 0; /* 0 counts 65536 */
  if (mode != 3) mode = 2;
  reload = (uint16_t)count;
  outb(PIT_CMD, CW_CH0 | CW_LSB_MSB | CW_MODE(mode));
  outb(PIT_CH0, (uint8_t)count);
  outb(PIT_CH0, (uint8_t)(count >> 8));
}

uint16_t pit_reload(void) {
  return reload;
}

uint16_t pit_read(void) {
  outb(PIT_CMD, CW_CH0 | CW_LATCH);
  uint8_t lo = inb(PIT_CH0);
  uint8_t hi = inb(PIT_CH0);
  return (uint16_t)(lo | hi << 8);
}

/* Status byte: OUT | NULL COUNT | RW1 RW0 | M2 M1 M0 | BCD. */
uint8_t pit_status(void) {
  outb(PIT_CMD, RB_CMD | RB_NO_COUNT | RB_CNT0);
  return inb(PIT_CH0);
}
