#include "rt.h"

#define COM1 0x3F8
#define DEBUG_EXIT 0xF4

/* ---- memory helpers the compiler may call even when freestanding ---- */
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

/* ---- COM1 (16550: THR at +0, LSR at +5 bit 5 = THR empty) ---- */
static void serial_init(void) {
  outb(COM1 + 1, 0x00); /* IER: no interrupts */
  outb(COM1 + 3, 0x80); /* LCR: DLAB */
  outb(COM1 + 0, 0x01); /* divisor 1: 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03); /* 8N1 */
  outb(COM1 + 2, 0x07); /* FIFO on, cleared */
}
void putc(char c) {
  while (!(inb(COM1 + 5) & 0x20)) {
  }
  outb(COM1, (uint8_t)c);
}
void puts(const char* s) {
  while (*s) putc(*s++);
}
void put_hex(uint64_t v) {
  puts("0x");
  int started = 0;
  for (int i = 60; i >= 0; i -= 4) {
    int d = (v >> i) & 0xf;
    if (d || started || i == 0) {
      putc("0123456789abcdef"[d]);
      started = 1;
    }
  }
}
void put_dec(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  puts(buf + i);
}
void exit(int code) {
  outb(DEBUG_EXIT, (uint8_t)code);
  for (;;) {
    cli();
    hlt();
  }
}

/* ---- IDT, TSS ---- */
struct idt_entry {
  uint16_t off_lo, sel;
  uint8_t ist, type;
  uint16_t off_mid;
  uint32_t off_hi, zero;
} __attribute__((packed));

static struct idt_entry idt[256];
static struct {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed)) idtr;
static uint8_t tss[104] __attribute__((aligned(16)));
static uint8_t rsp0_stack[8192] __attribute__((aligned(16)));
extern uint64_t gdt[];
extern uint64_t isr_table[48];
extern char ring3_exit[];
static void (*handlers[16])(struct frame*);

static void set_gate(int n, uint64_t addr, uint8_t type) {
  idt[n].off_lo = (uint16_t)addr;
  idt[n].sel = 0x08;
  idt[n].ist = 0;
  idt[n].type = type;
  idt[n].off_mid = (uint16_t)(addr >> 16);
  idt[n].off_hi = (uint32_t)(addr >> 32);
  idt[n].zero = 0;
}

/* 64-bit TSS descriptor (SDM vol. 3A, 8.2.3) at GDT 0x28; RSP0 at offset 4. */
static void tss_init(void) {
  uint64_t base = (uint64_t)tss, top = (uint64_t)(rsp0_stack + sizeof rsp0_stack);
  memcpy(tss + 4, &top, 8);
  gdt[5] = 103 | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((base >> 24) & 0xff) << 56);
  gdt[6] = base >> 32;
  __asm__ volatile("ltr %w0" ::"r"(0x28));
}

static void idt_init(void) {
  for (int i = 0; i < 48; ++i) set_gate(i, isr_table[i], 0x8E);
  idtr.limit = sizeof idt - 1;
  idtr.base = (uint64_t)idt;
  __asm__ volatile("lidt %0" ::"m"(idtr));
}

void irq_register(int irq, void (*handler)(struct frame*)) { handlers[irq] = handler; }

/* ---- ring 3 ---- */
static uint64_t kctx[8];
static uint64_t ring3_result;
static uint8_t user_stack[16384] __attribute__((aligned(16)));
int ctx_save(uint64_t* ctx);
void ctx_restore(uint64_t* ctx, uint64_t v) __attribute__((noreturn));
void enter_ring3(uint64_t (*fn)(void), void* stack) __attribute__((noreturn));

uint64_t run_in_ring3(uint64_t (*fn)(void)) {
  if (ctx_save(kctx) == 0) enter_ring3(fn, user_stack + sizeof user_stack);
  return ring3_result;
}

void isr_dispatch(struct frame* f) {
  if (f->vector == 13 && (f->cs & 3) == 3 && f->rip == (uint64_t)ring3_exit) {
    ring3_result = f->rax;  /* the ring-3 HLT at ring3_exit: back to ring 0 */
    ctx_restore(kctx, 1);
  }
  if (f->vector >= 32 && f->vector < 48) {
    int irq = (int)f->vector - 32;
    if (handlers[irq]) handlers[irq](f);
    pic_eoi(irq);
    return;
  }
  puts("exception ");
  put_dec(f->vector);
  puts(" error ");
  put_hex(f->error);
  puts(" at rip ");
  put_hex(f->rip);
  puts("\n");
  exit(0x7f);
}

/* ---- 8259A PIC (ICW1-4, OCW1 mask, OCW2 non-specific EOI) ---- */
void pic_remap(void) {
  outb(0x20, 0x11); /* ICW1: edge, cascade, ICW4 */
  outb(0xA0, 0x11);
  outb(0x21, 0x20); /* ICW2: vector base */
  outb(0xA1, 0x28);
  outb(0x21, 0x04); /* ICW3: slave on IR2 */
  outb(0xA1, 0x02);
  outb(0x21, 0x01); /* ICW4: 8086 mode */
  outb(0xA1, 0x01);
  outb(0x21, 0xFB); /* all masked but the cascade */
  outb(0xA1, 0xFF);
}
void pic_unmask(int irq) {
  uint16_t port = irq < 8 ? 0x21 : 0xA1;
  outb(port, inb(port) & (uint8_t)~(1u << (irq & 7)));
}
void pic_eoi(int irq) {
  if (irq >= 8) outb(0xA0, 0x20);
  outb(0x20, 0x20);
}

/* ---- 8254 PIT, channel 0 ---- */
static uint16_t reload;
void pit_start(uint32_t hz) {
  reload = (uint16_t)(1193182u / hz);
  outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
  outb(0x40, (uint8_t)reload);
  outb(0x40, (uint8_t)(reload >> 8));
}
uint16_t pit_reload(void) { return reload; }
uint16_t pit_read(void) {
  outb(0x43, 0x00); /* counter latch, channel 0 */
  uint8_t lo = inb(0x40);
  uint8_t hi = inb(0x40);
  return (uint16_t)(lo | hi << 8);
}

uint8_t cmos_read(uint8_t reg) {
  outb(0x70, reg);
  return inb(0x71);
}

/* ---- reports ---- */
static int reports, failures;
uint64_t hash64(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}
void report(int ok, const char* what) {
  ++reports;
  if (!ok) ++failures;
  puts(ok ? "PASS: " : "FAIL: ");
  puts(what);
  puts("\n");
}
int report_summary(void) {
  puts("SUMMARY: ");
  put_dec((uint64_t)reports);
  puts(" tests, ");
  put_dec((uint64_t)failures);
  puts(" failures\n");
  return failures ? 1 : 0;
}

void rt_start(uint32_t magic, uint32_t info) {
  serial_init();
  tss_init();
  idt_init();
  exit(main(magic, (struct mb_info*)(uint64_t)info));
}
