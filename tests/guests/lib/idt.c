/* 64-bit IDT and TSS (SDM vol. 3A, "Interrupt and Exception Handling" and
 * "Task Management"). Vectors 0-31 are exceptions: unexpected ones print the
 * vector, error code and RIP, then exit with EXIT_EXCEPTION. Vectors
 * 0x20-0x2f are the 8259's IRQs; 0x30-0x3e are local-APIC vectors (IOAPIC
 * pins, the LAPIC timer, IPIs: handler, then LAPIC EOI) and 0x3f is the
 * LAPIC's spurious vector (counted, no EOI: SDM vol. 3A, 11.9). A #GP from the HLT at ring3_exit
 * (isr.S) is how ring-3 code comes back to ring 0. */
#include "apic.h"
#include "internal.h"

#define GATE_INTR 0x8E     /* present, DPL 0, 64-bit interrupt gate */
#define TSS_AVAILABLE 0x89 /* present, 64-bit TSS (available) */
#define TSS_SIZE 104
#define TSS_RSP0 4
#define TSS_IOMAP_BASE 102
#define STUB_SIZE 16 /* isr.S: one stub every 16 bytes */
#define VEC_PF 14

struct idt_entry {
  uint16_t offset_low, selector;
  uint8_t ist, type;
  uint16_t offset_mid;
  uint32_t offset_high, reserved;
} __attribute__((packed));

struct table_ptr {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed));

static struct idt_entry idt[256];
static uint8_t tss[TSS_SIZE] __attribute__((aligned(16)));
/* Where the CPU switches to when an interrupt arrives at CPL 3. */
static uint8_t rsp0_stack[8192] __attribute__((aligned(16)));
static irq_handler handlers[16];
static irq_handler apic_handlers[16];
static irq_handler exception_handlers[32];
static volatile uint32_t spurious_count;

static const char* const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31"};

static void set_gate(int vector, const void* handler, uint8_t type) {
  uint64_t addr = (uint64_t)handler;
  idt[vector] = (struct idt_entry){
      (uint16_t)addr, KERNEL_CS, 0, type, (uint16_t)(addr >> 16), (uint32_t)(addr >> 32), 0};
}

/* SDM vol. 3A, "TSS Descriptor in 64-Bit Mode": 16 bytes, base split over
 * both quadwords. An I/O map base beyond the limit means no I/O bitmap, so
 * ring 3 gets #GP on every port access. */
static void tss_init(void) {
  uint64_t base = (uint64_t)tss, top = (uint64_t)(rsp0_stack + sizeof rsp0_stack);
  uint16_t iomap = TSS_SIZE;
  memcpy(tss + TSS_RSP0, &top, sizeof top);
  memcpy(tss + TSS_IOMAP_BASE, &iomap, sizeof iomap);
  gdt[TSS_SEL / 8] = (TSS_SIZE - 1) | ((base & 0xffffff) << 16) | ((uint64_t)TSS_AVAILABLE << 40) |
                     (((base >> 24) & 0xff) << 56);
  gdt[TSS_SEL / 8 + 1] = base >> 32;
  __asm__ volatile("ltr %w0" ::"r"((uint16_t)TSS_SEL));
}

void idt_init(void) {
  for (int v = 0; v <= VEC_APIC_SPURIOUS; ++v) set_gate(v, isr_stubs + STUB_SIZE * v, GATE_INTR);
  struct table_ptr idtr = {sizeof idt - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" ::"m"(idtr));
  tss_init();
}

void irq_register(int irq, irq_handler h) {
  handlers[irq & 15] = h;
}

void vector_register(int vector, irq_handler h) {
  if (vector >= VEC_APIC_FIRST && vector < VEC_APIC_SPURIOUS)
    apic_handlers[vector - VEC_APIC_FIRST] = h;
}

void exception_register(int vector, irq_handler h) {
  if (vector >= 0 && vector < 32) exception_handlers[vector] = h;
}

uint32_t apic_spurious_count(void) {
  return spurious_count;
}

static void irq_dispatch(struct frame* f) {
  int irq = (int)f->vector - VEC_IRQ0;
  /* 8259A datasheet: a request that goes away before INTA is reported as
   * IR7 with no ISR bit set. Such a spurious IRQ gets no EOI on its own chip;
   * a spurious IRQ15 still took the cascade input of the master. */
  if ((irq == 7 || irq == 15) && !pic_in_service(irq)) {
    if (irq == 15) pic_eoi(2);
    return;
  }
  if (handlers[irq]) handlers[irq](f);
  pic_eoi(irq);
}

static void fatal_exception(const struct frame* f) __attribute__((noreturn));
static void fatal_exception(const struct frame* f) {
  puts("exception ");
  put_dec(f->vector);
  if (f->vector < 32) {
    puts(" (");
    puts(exception_names[f->vector]);
    puts(")");
  }
  puts(" error ");
  put_hex(f->error);
  puts(" rip ");
  put_hex(f->rip);
  puts(" cs ");
  put_hex(f->cs);
  if (f->vector == VEC_PF) {
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    puts(" cr2 ");
    put_hex(cr2);
  }
  puts("\n");
  exit(EXIT_EXCEPTION);
}

/* Called by isr_common in isr.S for every vector. */
void isr_dispatch(struct frame* f);
void isr_dispatch(struct frame* f) {
  if (f->vector >= VEC_IRQ0 && f->vector < VEC_IRQ0 + 16) {
    irq_dispatch(f);
    return;
  }
  if (f->vector == VEC_APIC_SPURIOUS) {
    ++spurious_count;
    return;
  }
  if (f->vector >= VEC_APIC_FIRST && f->vector < VEC_APIC_SPURIOUS &&
      apic_handlers[f->vector - VEC_APIC_FIRST]) {
    apic_handlers[f->vector - VEC_APIC_FIRST](f);
    lapic_eoi();
    return;
  }
  if (f->vector == VEC_GP && (f->cs & 3) == 3 && f->rip == (uint64_t)ring3_exit) ring3_return(f);
  if (f->vector < 32 && exception_handlers[f->vector]) {
    exception_handlers[f->vector](f);
    return;
  }
  fatal_exception(f);
}
