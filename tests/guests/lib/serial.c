/* COM1 output: a 16550A, polled on LSR.THRE, no interrupts (PC16550D
 * datasheet, "Registers"). Lines end in "\n" only, so serial output compares
 * byte for byte with what the host tests expect. */
#include "internal.h"

#define COM1 0x3F8
#define UART_THR 0 /* transmit holding register (DLAB = 0) */
#define UART_DLL 0 /* divisor latch, low byte (DLAB = 1) */
#define UART_IER 1 /* interrupt enable (DLAB = 0) */
#define UART_DLM 1 /* divisor latch, high byte (DLAB = 1) */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define FCR_ENABLE_AND_CLEAR 0x07 /* FIFOs on, both cleared */
#define MCR_DTR_RTS 0x03
#define LSR_THRE 0x20

void serial_init(void) {
  outb(COM1 + UART_IER, 0x00);
  outb(COM1 + UART_LCR, LCR_DLAB);
  outb(COM1 + UART_DLL, 0x01); /* 115200 baud */
  outb(COM1 + UART_DLM, 0x00);
  outb(COM1 + UART_LCR, LCR_8N1);
  outb(COM1 + UART_FCR, FCR_ENABLE_AND_CLEAR);
  outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

void putc(char c) {
  while (!(inb(COM1 + UART_LSR) & LSR_THRE)) {
  }
  outb(COM1 + UART_THR, (uint8_t)c);
}

void puts(const char* s) {
  while (*s) putc(*s++);
}

void put_hex(uint64_t v) {
  int shift = 60;
  while (shift > 0 && !(v >> shift)) shift -= 4;
  puts("0x");
  for (; shift >= 0; shift -= 4) putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

void put_dec(uint64_t v) {
  char buf[21];
  int i = sizeof buf - 1;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  puts(buf + i);
}
