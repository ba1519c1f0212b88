/* x86 port I/O and interrupt-flag instructions for the test guests. */
#ifndef RRVM_GUEST_IO_H
#define RRVM_GUEST_IO_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) {
  __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v) {
  __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v) {
  __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
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

static inline void sti(void) {
  __asm__ volatile("sti" ::: "memory");
}
static inline void cli(void) {
  __asm__ volatile("cli" ::: "memory");
}
static inline void hlt(void) {
  __asm__ volatile("hlt" ::: "memory");
}
/* STI's one-instruction interrupt shadow (SDM vol. 2B, STI) makes the pair
 * atomic: an interrupt pending at the STI wakes the HLT instead of being
 * taken before it and leaving the HLT to sleep. */
static inline void sti_hlt(void) {
  __asm__ volatile("sti; hlt" ::: "memory");
}

static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return lo | (uint64_t)hi << 32;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint16_t read_cs(void) {
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  return cs;
}

#endif
