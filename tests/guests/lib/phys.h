/* Access to physical memory. entry.S identity-maps the first 4 GiB, so a
 * physical address is a pointer; the empty asm hides the constant from the
 * compiler, which otherwise warns about (and may mistreat) accesses near
 * address 0 such as the BIOS data area. */
#ifndef RRVM_GUEST_PHYS_H
#define RRVM_GUEST_PHYS_H

#include <stdint.h>

static inline volatile void* phys(uint64_t addr) {
  __asm__("" : "+r"(addr));
  return (volatile void*)addr;
}
static inline uint8_t phys_read8(uint64_t a) {
  return *(volatile uint8_t*)phys(a);
}
static inline uint16_t phys_read16(uint64_t a) {
  return *(volatile uint16_t*)phys(a);
}
static inline uint32_t phys_read32(uint64_t a) {
  return *(volatile uint32_t*)phys(a);
}
static inline void phys_write32(uint64_t a, uint32_t v) {
  *(volatile uint32_t*)phys(a) = v;
}
/* Sum of n bytes mod 256: 0 for a valid MP or ACPI table. */
static inline uint8_t phys_sum(uint64_t a, uint32_t n) {
  uint8_t s = 0;
  for (uint32_t i = 0; i < n; ++i) s = (uint8_t)(s + phys_read8(a + i));
  return s;
}
static inline int phys_match(uint64_t a, const char* sig, int n) {
  for (int i = 0; i < n; ++i)
    if (phys_read8(a + i) != (uint8_t)sig[i]) return 0;
  return 1;
}

#endif
