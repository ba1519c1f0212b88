/* completions: the ring-0 instructions that some hosts' KVM cannot emulate
 * and rrvm completes for it (vmm/instruction_completion.h), checked against
 * what the CPU does (Intel SDM vol. 2A: INT3, WAIT/FWAIT, CLAC, STAC):
 * int3 raises #BP with the address after it on the stack; fwait with no x87
 * exception pending goes on; clac/stac set or clear RFLAGS.AC when CPUID has
 * SMAP and raise #UD, on themselves, when it does not. */
#include "rt.h"

#define RFLAGS_AC (1ull << 18)

static volatile uint32_t bp_count, ud_count;
static volatile uint64_t bp_rip, ud_rip;

static void on_bp(struct frame* f) {
  ++bp_count;
  bp_rip = f->rip;
}

/* #UD is a fault: step over the 3-byte clac/stac. */
static void on_ud(struct frame* f) {
  ++ud_count;
  ud_rip = f->rip;
  f->rip += 3;
}

static uint64_t int3_returns_to(void) {
  uint64_t after;
  __asm__ volatile("int3\n1: lea 1b(%%rip), %0" : "=r"(after));
  return after;
}

static int smap_in_cpuid(void) {
  uint32_t a = 7, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return (b >> 20) & 1;
}

static uint64_t rflags(void) {
  uint64_t f;
  __asm__ volatile("pushfq; popq %0" : "=r"(f));
  return f;
}

/* Runs clac (set = 0) or stac (set = 1); returns its address. */
static uint64_t ac_instruction(int set) {
  uint64_t at;
  if (set)
    __asm__ volatile("lea 1f(%%rip), %0\n1: stac" : "=r"(at));
  else
    __asm__ volatile("lea 1f(%%rip), %0\n1: clac" : "=r"(at));
  return at;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  exception_register(3, on_bp);
  exception_register(6, on_ud);
  int rip_ok = 1;
  for (int i = 0; i < 3; ++i) rip_ok &= int3_returns_to() == bp_rip;
  report(bp_count == 3 && rip_ok, "int3 raised #BP three times, returning after the int3");

  uint16_t sw = 0xffff;
  __asm__ volatile("fninit\n fwait\n fnstsw %0" : "=m"(sw));
  report(sw == 0, "fwait with no x87 exception pending goes on");

  int smap = smap_in_cpuid();
  puts(smap ? "completions: SMAP in CPUID\n" : "completions: no SMAP in CPUID\n");
  uint64_t stac_at = ac_instruction(1);
  int ac_after_stac = (rflags() & RFLAGS_AC) != 0;
  uint64_t stac_ud = ud_rip;
  uint64_t clac_at = ac_instruction(0);
  int ac_after_clac = (rflags() & RFLAGS_AC) != 0;
  if (smap) {
    report(ud_count == 0 && ac_after_stac && !ac_after_clac, "stac sets AC, clac clears it");
  } else {
    report(ud_count == 2 && stac_ud == stac_at && ud_rip == clac_at && !ac_after_stac,
           "stac and clac raise #UD on themselves");
  }
  return report_summary();
}
