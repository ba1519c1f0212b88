/* iobench: heavy port I/O for the overhead benchmarks. 4,000 rounds of five
 * port accesses (20,000 exits): a byte through the UART in loopback mode
 * (MCR bit 4: THR feeds RBR, PC16550D datasheet), a PIT read-back of
 * channel 0's status, and the UART's LSR. Only time-independent bits go into
 * the checksum, so it is the same on every run and every correct VMM. */
#include "rt.h"

#define COM1 0x3F8
#define UART_RBR 0
#define UART_MCR 4
#define UART_LSR 5
#define MCR_DTR_RTS 0x03
#define MCR_LOOP 0x10
#define LSR_STABLE 0x61 /* DR, THRE, TEMT: DR is 0 after the read */
#define ROUNDS 4000

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  pit_start(100, 2);
  outb(COM1 + UART_MCR, MCR_DTR_RTS | MCR_LOOP);
  uint64_t sum = HASH_INIT;
  int echoed = 1;
  for (int i = 0; i < ROUNDS; ++i) {
    outb(COM1, (uint8_t)i);
    uint8_t back = inb(COM1 + UART_RBR);
    echoed &= back == (uint8_t)i;
    uint8_t status = pit_status() & 0x3f; /* RW and mode bits, not OUT */
    uint8_t lsr = inb(COM1 + UART_LSR) & LSR_STABLE;
    /* One hash per round keeps the ring-0 work small next to the exits. */
    sum = hash64(sum, back | (uint32_t)status << 8 | (uint32_t)lsr << 16);
  }
  outb(COM1 + UART_MCR, MCR_DTR_RTS); /* loopback off before printing */
  puts("iobench: 20000 port accesses, checksum ");
  put_hex(sum);
  putc('\n');
  report(echoed, "loopback echoed every byte");
  return report_summary();
}
