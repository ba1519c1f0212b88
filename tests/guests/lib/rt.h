/* Tiny runtime for rrvm's freestanding test guests: port I/O, COM1 output,
 * exit through isa-debug-exit (port 0xf4), IDT with IRQ handlers, 8259 and
 * 8254 set-up, CMOS reads, ring-3 entry, and kvm-unit-tests style reports. */
#ifndef RRVM_GUEST_RT_H
#define RRVM_GUEST_RT_H

#include <stddef.h>
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint16_t inw(uint16_t port) {
  uint16_t v;
  __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline uint32_t inl(uint16_t port) {
  uint32_t v;
  __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void sti(void) { __asm__ volatile("sti"); }
static inline void cli(void) { __asm__ volatile("cli"); }
static inline void hlt(void) { __asm__ volatile("hlt"); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt"); }

/* Saved by the interrupt stubs in entry.S, lowest address first. */
struct frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;
};

/* Multiboot 1 info fields the guests look at (spec 0.6.96, 3.3). */
struct mb_info {
  uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
};

void putc(char c);
void puts(const char* s);
void put_hex(uint64_t v);
void put_dec(uint64_t v);
void exit(int code) __attribute__((noreturn));

void irq_register(int irq, void (*handler)(struct frame*));
void pic_remap(void);       /* master vectors 0x20-0x27, slave 0x28-0x2f, all masked */
void pic_unmask(int irq);
void pic_eoi(int irq);
void pit_start(uint32_t hz);  /* channel 0, mode 2 (rate generator) */
uint16_t pit_reload(void);
uint16_t pit_read(void);      /* channel 0 count via the counter-latch command */
uint8_t cmos_read(uint8_t reg);

/* Runs fn at CPL 3 (interrupts on) and returns its result once it is back in
 * ring 0. fn must not do port I/O or HLT: IOPL is 0. */
uint64_t run_in_ring3(uint64_t (*fn)(void));

uint64_t hash64(uint64_t h, uint64_t v); /* FNV-1a over the 8 bytes of v */
void report(int ok, const char* what);
int report_summary(void);               /* 0 if every report passed */

int main(uint32_t magic, struct mb_info* info);

#endif
