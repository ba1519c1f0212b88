/* From entry.S to main() and back out through isa-debug-exit. */
#include "internal.h"

#define DEBUG_EXIT_PORT 0xF4

/* The compiler may emit calls to these even with -ffreestanding. */
void* memset(void* d, int c, size_t n) {
  unsigned char* p = d;
  while (n--) *p++ = (unsigned char)c;
  return d;
}

void* memcpy(void* d, const void* s, size_t n) {
  unsigned char* p = d;
  const unsigned char* q = s;
  while (n--) *p++ = *q++;
  return d;
}

/* QEMU's isa-debug-exit turns the value into exit status (value << 1) | 1;
 * without that device the guest just halts with interrupts off. */
void exit(int value) {
  outb(DEBUG_EXIT_PORT, (uint8_t)value);
  for (;;) {
    cli();
    hlt();
  }
}

/* Whatever firmware ran before us (QEMU runs SeaBIOS first, with IRQ0 on
 * vector 8), every guest starts with the same state: IDT and TSS loaded,
 * all 8259 inputs masked. */
void rt_start(uint32_t magic, uint32_t info);
void rt_start(uint32_t magic, uint32_t info) {
  serial_init();
  idt_init();
  pic_remap();
  exit(main(magic, (struct mb_info*)(uint64_t)info));
}
