/* 8259A pair (Intel 8259A datasheet: ICW1-ICW4, OCW1-OCW3). */
#include "internal.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1

#define ICW1_INIT_ICW4 0x11 /* edge triggered, cascade, ICW4 follows */
#define ICW3_MASTER_SLAVE_ON_IR2 0x04
#define ICW3_SLAVE_ID 0x02
#define ICW4_8086 0x01
#define OCW2_NONSPECIFIC_EOI 0x20
#define OCW3_READ_IRR 0x0A
#define OCW3_READ_ISR 0x0B
#define CASCADE_IRQ 2

/* Vectors 0x20-0x2f keep the IRQs clear of the CPU's exception vectors.
 * Everything is masked except the cascade input, so a slave IRQ needs only
 * its own unmask. */
void pic_remap(void) {
  outb(PIC1_CMD, ICW1_INIT_ICW4);
  outb(PIC2_CMD, ICW1_INIT_ICW4);
  outb(PIC1_DATA, VEC_IRQ0); /* ICW2: vector base */
  outb(PIC2_DATA, VEC_IRQ0 + 8);
  outb(PIC1_DATA, ICW3_MASTER_SLAVE_ON_IR2);
  outb(PIC2_DATA, ICW3_SLAVE_ID);
  outb(PIC1_DATA, ICW4_8086);
  outb(PIC2_DATA, ICW4_8086);
  outb(PIC1_DATA, (uint8_t) ~(1u << CASCADE_IRQ)); /* OCW1: masks */
  outb(PIC2_DATA, 0xFF);
}

static uint16_t data_port(int irq) {
  return irq < 8 ? PIC1_DATA : PIC2_DATA;
}

void pic_unmask(int irq) {
  uint16_t port = data_port(irq);
  outb(port, inb(port) & (uint8_t) ~(1u << (irq & 7)));
}

void pic_mask(int irq) {
  uint16_t port = data_port(irq);
  outb(port, inb(port) | (uint8_t)(1u << (irq & 7)));
}

void pic_eoi(int irq) {
  if (irq >= 8) outb(PIC2_CMD, OCW2_NONSPECIFIC_EOI);
  outb(PIC1_CMD, OCW2_NONSPECIFIC_EOI);
}

int pic_in_service(int irq) {
  uint16_t cmd = irq < 8 ? PIC1_CMD : PIC2_CMD;
  outb(cmd, OCW3_READ_ISR);
  uint8_t isr = inb(cmd);
  outb(cmd, OCW3_READ_IRR); /* back to the power-on default */
  return (isr >> (irq & 7)) & 1;
}
