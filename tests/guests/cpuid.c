/* cpuid: prints the CPU the VMM shows the guest — vendor, brand, signature,
 * initial APIC ID, the leaf 1 feature words, the hypervisor range and a hash
 * of every leaf of the basic and extended ranges — and checks that the
 * initial APIC ID is the local APIC's ID (Intel SDM vol. 3A, 11.4.6). */
#include "apic.h"
#include "phys.h"
#include "rt.h"

static void cpuid(uint32_t leaf, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

static void put_words(const char* what, const uint32_t r[4]) {
  puts(what);
  for (int i = 0; i < 4; ++i) {
    putc(' ');
    put_hex(r[i]);
  }
  putc('\n');
}

/* Four registers of 4 characters each, in `order`. */
static void put_text(const uint32_t r[4], const int* order, int n) {
  for (int i = 0; i < n; ++i)
    for (int b = 0; b < 4; ++b) {
      char c = (char)(r[order[i]] >> (8 * b));
      if (c) putc(c);
    }
}

static uint64_t hash_range(uint32_t first, uint32_t last, uint64_t h) {
  uint32_t r[4];
  for (uint32_t leaf = first; leaf <= last && leaf - first < 64; ++leaf) {
    cpuid(leaf, r);
    for (int i = 0; i < 4; ++i) h = hash64(h, ((uint64_t)leaf << 32) | r[i]);
  }
  return h;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  uint32_t r[4], max_basic, max_ext;
  static const int kVendor[] = {1, 3, 2}, kBrand[] = {0, 1, 2, 3};
  cpuid(0, r);
  max_basic = r[0];
  puts("cpuid: vendor ");
  put_text(r, kVendor, 3);
  cpuid(0x80000000, r);
  max_ext = r[0];
  puts(", brand \"");
  for (uint32_t leaf = 0x80000002; leaf <= 0x80000004 && leaf <= max_ext; ++leaf) {
    cpuid(leaf, r);
    put_text(r, kBrand, 4);
  }
  puts("\"\n");
  cpuid(1, r);
  put_words("cpuid: leaf 1:", r);
  uint32_t apic_id = r[1] >> 24;
  cpuid(0x80000001, r);
  put_words("cpuid: leaf 0x80000001:", r);
  cpuid(0x40000000, r);
  put_words("cpuid: leaf 0x40000000:", r);
  uint64_t h = hash_range(0x80000000, max_ext, hash_range(0, max_basic, HASH_INIT));
  puts("cpuid: hash ");
  put_hex(h);
  putc('\n');
  report(apic_id == phys_read32(LAPIC_DEFAULT_BASE + LAPIC_ID) >> 24,
         "initial APIC ID is the local APIC's ID");
  return report_summary();
}
