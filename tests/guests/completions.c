/* completions: the ring-0 instructions that some hosts' KVM cannot emulate
 * and rrvm completes for it (vmm/instruction_completion.h), checked against
 * what the CPU does (Intel SDM vol. 2A: INT3, WAIT/FWAIT, CLAC, STAC):
 * int3 raises #BP with the address after it on the stack, int n (an
 * exception vector and an APIC one) its vector the same way; fwait with no x87
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

static volatile uint32_t int_count;
static volatile uint64_t int_rip, int_vector;

static void on_int(struct frame* f) {
  ++int_count;
  int_rip = f->rip;
  int_vector = f->vector;
}

/* int $4 (an exception's vector, which has no error code) and int $0x3e
 * (an APIC vector; idt.c's EOI after it finds nothing in service). */
static uint64_t int4_returns_to(void) {
  uint64_t after;
  __asm__ volatile("int $4\n1: lea 1b(%%rip), %0" : "=r"(after));
  return after;
}

static uint64_t int3e_returns_to(void) {
  uint64_t after;
  __asm__ volatile("int $0x3e\n1: lea 1b(%%rip), %0" : "=r"(after));
  return after;
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

/* Linux's FXSAVE-leak workaround before restoring a task's FPU state
 * (restore_fpregs_from_fpstate): fnclex; emms; fildl. After fninit, fild
 * of 5 leaves TOP 7, physical register 7 tagged, and ST0 = 5.0 as an
 * 80-bit extended value (mantissa 0xa000000000000000, exponent 0x4001);
 * fxsave shows it (FSW at byte 2, abridged FTW at 4, ST0 at 32). */
static int x87_leak_workaround_loads(void) {
  static uint8_t image[512] __attribute__((aligned(16)));
  static const int32_t five = 5;
  static const uint8_t want_st0[10] = {0, 0, 0, 0, 0, 0, 0, 0xa0, 0x01, 0x40};
  __asm__ volatile("fninit\n fnclex\n emms\n fildl %0\n fxsave %1"
                   :
                   : "m"(five), "m"(image)
                   : "memory");
  uint16_t fsw = (uint16_t)(image[2] | image[3] << 8);
  int ok = (fsw >> 11 & 7) == 7 && image[4] == 0x80;
  for (int i = 0; i < 10; ++i) ok &= image[32 + i] == want_st0[i];
  __asm__ volatile("fninit");
  return ok;
}

/* The integer SSE rrvm completes (vmm/sse_instructions.h), in the forms
 * Linux's blake2s_compress_ssse3 uses: movd from a general register and
 * from memory through SIB, unpacks, paddd/paddq, pxor with a memory
 * operand, pshufb (rotate by 16), a rotate by 12 out of psrld/pslld/por,
 * pshufd, then movq/pmovmskb back to general registers. Checked against
 * the same steps in scalar code. No clobber list: the guest is built with
 * -mgeneral-regs-only, so the compiler keeps nothing in XMM registers. */
static int sse_matches_scalar(void) {
  static const uint32_t in[4]
      __attribute__((aligned(16))) = {0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00d};
  static const uint8_t rot16[16]
      __attribute__((aligned(16))) = {2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13};
  static uint32_t res[4] __attribute__((aligned(16)));
  uint32_t k = 0xf00dcafe;
  uint64_t low, mask, idx = 1, cr4;
  __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
  __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 1u << 9)); /* CR4.OSFXSR: SSE on */
  __asm__ volatile(
      "movd %k[k], %%xmm15\n"
      "movdqa %[in], %%xmm0\n"
      "movd 4(%[inp],%[idx],4), %%xmm4\n"
      "punpckldq %%xmm15, %%xmm4\n"
      "paddd %%xmm4, %%xmm0\n"
      "paddq %%xmm15, %%xmm0\n"
      "pxor %[in], %%xmm0\n"
      "pshufb %[rot], %%xmm0\n"
      "movdqa %%xmm0, %%xmm8\n"
      "psrld $12, %%xmm0\n"
      "pslld $20, %%xmm8\n"
      "por %%xmm8, %%xmm0\n"
      "pshufd $0x93, %%xmm0, %%xmm0\n"
      "movdqu %%xmm0, %[res]\n"
      "movq %%xmm0, %[low]\n"
      "pmovmskb %%xmm4, %k[mask]\n"
      : [res] "=m"(res), [low] "=r"(low), [mask] "=r"(mask)
      : [k] "r"(k), [in] "m"(in), [inp] "r"(in), [idx] "r"(idx), [rot] "m"(rot16)
      : "memory");
  uint32_t x[4], t[4] = {in[2], k, 0, 0}, want[4];
  for (int i = 0; i < 4; ++i) x[i] = in[i] + t[i];
  uint64_t q0 = ((uint64_t)x[1] << 32 | x[0]) + k;
  x[0] = (uint32_t)q0;
  x[1] = (uint32_t)(q0 >> 32);
  for (int i = 0; i < 4; ++i) {
    x[i] ^= in[i];
    x[i] = x[i] >> 16 | x[i] << 16;
    x[i] = x[i] >> 12 | x[i] << 20;
  }
  for (int i = 0; i < 4; ++i) want[i] = x[(0x93 >> (2 * i)) & 3];
  uint64_t want_mask = 0;
  for (int i = 0; i < 8; ++i) want_mask |= (uint64_t)((t[i / 4] >> (8 * (i % 4) + 7)) & 1) << i;
  int ok = mask == want_mask && low == ((uint64_t)want[1] << 32 | want[0]);
  for (int i = 0; i < 4; ++i) ok &= res[i] == want[i];
  return ok;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic;
  exception_register(3, on_bp);
  exception_register(6, on_ud);
  int rip_ok = 1;
  for (int i = 0; i < 3; ++i) rip_ok &= int3_returns_to() == bp_rip;
  report(bp_count == 3 && rip_ok, "int3 raised #BP three times, returning after the int3");
  exception_register(4, on_int);
  vector_register(0x3e, on_int);
  int int4_ok = int4_returns_to() == int_rip && int_vector == 4;
  int int3e_ok = int3e_returns_to() == int_rip && int_vector == 0x3e;
  report(int_count == 2 && int4_ok && int3e_ok,
         "int n raised vectors 4 and 0x3e, returning after it");

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
  report(x87_leak_workaround_loads(), "fnclex; emms; fildl loads ST0 as the CPU does");
  report(sse_matches_scalar(), "SSE integer instructions compute what scalar code does");
  int status = report_summary();
  if (cmdline_has(info, "cx16")) cmpxchg16b();
  return status;
}
