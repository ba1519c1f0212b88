/* Tiny runtime of rrvm's freestanding test guests (tests/guests/README.md).
 *
 * entry.S switches from the Multiboot 32-bit entry to long mode and calls
 * rt_start(), which sets up COM1, the IDT and TSS, masks every 8259 input and
 * calls main(); main's return value leaves through isa-debug-exit. */
#ifndef RRVM_GUEST_RT_H
#define RRVM_GUEST_RT_H

#include <stddef.h>
#include <stdint.h>

#include "gdt.h"
#include "io.h"

/* Values written to isa-debug-exit (port 0xf4). The VMM's (and QEMU's) exit
 * status is (value << 1) | 1: 0 -> 1, 1 -> 3, 0x70 -> 225. */
#define EXIT_PASS 0         /* every report passed */
#define EXIT_FAIL 1         /* at least one report failed */
#define EXIT_EXCEPTION 0x70 /* an unexpected CPU exception */

/* Multiboot 1 information structure, the fields the guests use
 * (spec 0.6.96, 3.3). */
struct mb_info {
  uint32_t flags;
  uint32_t mem_lower, mem_upper; /* KiB, valid if flags bit 0 */
  uint32_t boot_device;          /* flags bit 1 */
  uint32_t cmdline;              /* physical address of a C string, flags bit 2 */
  uint32_t mods_count, mods_addr;
};
#define MB_BOOTLOADER_MAGIC 0x2BADB002
#define MB_INFO_MEM 0x001
#define MB_INFO_CMDLINE 0x004

int main(uint32_t magic, struct mb_info* info);
void exit(int value) __attribute__((noreturn));
void* memset(void* d, int c, size_t n);
void* memcpy(void* d, const void* s, size_t n);

/* serial.c: COM1, polled. */
void putc(char c);
void puts(const char* s);
void put_hex(uint64_t v); /* "0x" and lowercase digits, no leading zeros */
void put_dec(uint64_t v);

/* idt.c: what the interrupt stubs in isr.S save, lowest address first. */
struct frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
typedef void (*irq_handler)(struct frame* f);
void irq_register(int irq, irq_handler h); /* IRQ 0-15 = vectors 0x20-0x2f */
/* Local-APIC vectors (apic.h): the handler runs, then idt.c writes the LAPIC
 * EOI. VEC_APIC_SPURIOUS is the SVR's spurious vector: counted, no EOI. */
#define VEC_APIC_FIRST 0x30
#define VEC_APIC_SPURIOUS 0x3f
void vector_register(int vector, irq_handler h); /* 0x30-0x3e */
/* An expected exception (vector 0-31): the handler runs instead of the
 * report-and-exit; for a fault it must move f->rip past the instruction. */
void exception_register(int vector, irq_handler h);
uint32_t apic_spurious_count(void);

/* pic.c: 8259A pair. */
void pic_remap(void); /* master at 0x20-0x27, slave at 0x28-0x2f, all masked */
void pic_unmask(int irq);
void pic_mask(int irq);
void pic_eoi(int irq);
int pic_in_service(int irq);

/* pit.c: 8254 channel 0. */
#define PIT_HZ 1193182u
void pit_start(uint32_t hz, int mode); /* mode 2 (rate generator) or 3 (square wave) */
uint16_t pit_reload(void);             /* the count pit_start programmed */
uint16_t pit_read(void);               /* counter-latch command, then LSB and MSB */
uint8_t pit_status(void);              /* read-back command, status of channel 0 */

/* cmos.c: MC146818 RTC registers through ports 0x70/0x71. */
uint8_t cmos_read(uint8_t reg);

/* ring3.c: runs fn at CPL 3 with interrupts enabled (IRQs are handled in
 * ring 0 on the TSS's RSP0 stack) and returns fn's result in ring 0 with
 * interrupts disabled. fn must not do port I/O or HLT (IOPL is 0, and a
 * fault in ring 3 is reported like any other exception). */
uint64_t run_in_ring3(uint64_t (*fn)(void));

/* report.c: kvm-unit-tests style results and a hash for digests. */
void report(int ok, const char* what); /* "PASS: what" or "FAIL: what" */
int report_summary(void);              /* "SUMMARY: ..."; EXIT_PASS or EXIT_FAIL */
#define HASH_INIT 0xcbf29ce484222325ull
uint64_t hash64(uint64_t h, uint64_t v); /* FNV-1a over the 8 bytes of v, LSB first */

#endif
