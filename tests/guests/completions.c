/* completions: the ring-0 instructions that some hosts' KVM cannot emulate
 * and rrvm completes for it (vmm/instruction_completion.h), checked against
 * what the CPU does (Intel SDM vol. 2A: INT3, WAIT/FWAIT, CLAC, STAC):
 * int3 raises #BP with the address after it on the stack; fwait with no x87
 * exception pending goes on; clac/stac set or clear RFLAGS.AC when CPUID has
 * SMAP and raise #UD, on themselves, when it does not. With "cx16" on the
 * command line it then executes lock cmpxchg16b, which rrvm does not
 * complete: on a host whose KVM cannot emulate it, the run ends there in a
 * crash report. */
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

static int cmdline_has(const struct mb_info* info, const char* word) {
  if (!(info->flags & MB_INFO_CMDLINE) || !info->cmdline) return 0;
  for (const char* s = (const char*)(uint64_t)info->cmdline; *s; ++s) {
    int i = 0;
    while (word[i] && s[i] == word[i]) ++i;
    if (!word[i]) return 1;
  }
  return 0;
}

static void cmpxchg16b(void) {
  static uint64_t pair[2] __attribute__((aligned(16)));
  uint64_t lo = 0, hi = 0;
  /* rdi for the operand: f0 48 0f c7 0f, the bytes the crash report names. */
  __asm__ volatile("lock cmpxchg16b (%%rdi)"
                   : "+a"(lo), "+d"(hi)
                   : "D"(pair), "b"(1), "c"(2)
                   : "memory", "cc");
}

/* Linux's hweight64: popcnt %rdi, %rax (f3 48 0f b8 c7); ZF from the source. */
static uint64_t popcnt(uint64_t v, int* zf) {
  uint64_t n;
  uint8_t z;
  __asm__ volatile("popcnt %2, %0\n setz %1" : "=a"(n), "=q"(z) : "D"(v) : "cc");
  *zf = z;
  return n;
}

/* Linux's kernel_fpu_begin loads MXCSR from the stack (ldmxcsr 4(%rsp));
 * fxsave shows what it loaded (MXCSR at byte 24 of the image). */
static uint32_t mxcsr_after_ldmxcsr(uint32_t value) {
  static uint8_t image[512] __attribute__((aligned(16)));
  uint64_t cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 1u << 9)); /* CR4.OSFXSR: SSE state on */
  __asm__ volatile("ldmxcsr %0\n fxsave %1" : : "m"(value), "m"(image) : "memory");
  return *(volatile uint32_t*)(image + 24);
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic;
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
  int zf_nonzero, zf_zero;
  uint64_t nine = popcnt(0xf0f0000000000001ull, &zf_nonzero);
  uint64_t zero = popcnt(0, &zf_zero);
  report(nine == 9 && zero == 0 && !zf_nonzero && zf_zero,
         "popcnt counts bits, ZF set only for a zero source");
  uint32_t ftz = mxcsr_after_ldmxcsr(0x9f80), dflt = mxcsr_after_ldmxcsr(0x1f80);
  report(ftz == 0x9f80 && dflt == 0x1f80, "ldmxcsr loads MXCSR");
  int status = report_summary();
  if (cmdline_has(info, "cx16")) cmpxchg16b();
  return status;
}
