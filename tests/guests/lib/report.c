/* kvm-unit-tests style reporting, and the hash the guests print. */
#include "internal.h"

static unsigned reports, failures;

void report(int ok, const char* what) {
  ++reports;
  if (!ok) ++failures;
  puts(ok ? "PASS: " : "FAIL: ");
  puts(what);
  putc('\n');
}

int report_summary(void) {
  puts("SUMMARY: ");
  put_dec(reports);
  puts(" tests, ");
  put_dec(failures);
  puts(" failures\n");
  return failures ? EXIT_FAIL : EXIT_PASS;
}

/* FNV-1a, 64-bit (offset basis HASH_INIT, prime 2^40 + 2^8 + 0xb3). */
uint64_t hash64(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}
