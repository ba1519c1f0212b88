/* x2apic: the local APIC's x2APIC mode (Intel SDM vol. 3A, 11.12) through
 * IA32_APIC_BASE and the MSRs 0x800-0x8FF: CPUID advertises it; with EXTD
 * set, MSR 0x802 is the initial APIC ID and 0x803 the xAPIC version, a
 * vector written to SELF IPI (0x83F) is delivered, and the MMIO page is no
 * longer decoded; x2APIC -> xAPIC directly raises #GP (Figure 11-27), via
 * disabled it works; while disabled, CPUID's APIC flag is clear and the
 * x2APIC MSRs raise #GP. Relocated (11.4.4: IA32_APIC_BASE bits 35:12), the
 * xAPIC page decodes at the new base only, a self IPI sent there arrives,
 * and moved back it decodes at 0xFEE00000 again. */
#include "apic.h"
#include "rt.h"

#define MSR_APIC_BASE 0x1b
#define APIC_BASE_EXTD (1ull << 10)
#define APIC_BASE_EN (1ull << 11)
#define MSR_X2APIC(reg) (0x800 + ((reg) >> 4))
#define VEC_SELF 0x31
#define VEC_GP 13
#define RELOCATED_BASE 0xFEB00000u /* nothing else decodes there */

static volatile uint32_t ipis, gps;

static void on_ipi(struct frame* f) {
  (void)f;
  ++ipis;
}

/* RDMSR and WRMSR are two bytes: step over the one that faulted. */
static void on_gp(struct frame* f) {
  ++gps;
  f->rip += 2;
}

static uint32_t cpuid1(int edx) {
  uint32_t a = 1, b, c = 0, d;
  __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
  return edx ? d : c;
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  report((cpuid1(0) >> 21) & 1, "CPUID.01H:ECX.x2APIC is set");
  lapic_enable();
  uint32_t version = lapic_read(LAPIC_VERSION);
  uint64_t base = rdmsr(MSR_APIC_BASE);
  vector_register(VEC_SELF, on_ipi);
  exception_register(VEC_GP, on_gp);

  wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);
  lapic_x2apic_mode(1);
  report(rdmsr(MSR_X2APIC(LAPIC_ID)) == 0 && rdmsr(MSR_X2APIC(LAPIC_VERSION)) == version,
         "x2APIC ID and version through MSRs");
  __asm__ volatile("sti");
  wrmsr(MSR_X2APIC(0x3f0), VEC_SELF); /* SELF IPI */
  __asm__ volatile("cli");
  report(ipis == 1, "SELF IPI delivered");
  report(lapic_read(LAPIC_VERSION) == 0xffffffff, "MMIO page not decoded in x2APIC mode");

  wrmsr(MSR_APIC_BASE, base);
  report(gps == 1, "x2APIC -> xAPIC directly raises #GP");
  wrmsr(MSR_APIC_BASE, base & ~(APIC_BASE_EN | APIC_BASE_EXTD));
  lapic_x2apic_mode(0);
  report(gps == 1 && !((cpuid1(1) >> 9) & 1), "disabled: CPUID.01H:EDX.APIC is clear");
  rdmsr(MSR_X2APIC(LAPIC_ID));
  report(gps == 2, "disabled: x2APIC MSRs raise #GP");
  wrmsr(MSR_APIC_BASE, base);
  report(((cpuid1(1) >> 9) & 1) && lapic_read(LAPIC_VERSION) == version,
         "xAPIC again: the page decodes, CPUID.01H:EDX.APIC is set");

  wrmsr(MSR_APIC_BASE, RELOCATED_BASE | (base & 0xfff));
  lapic_set_base(RELOCATED_BASE);
  int moved = lapic_read(LAPIC_VERSION) == version;
  lapic_enable(); /* software-disabled since the global disable (11.4.3) */
  __asm__ volatile("sti");
  lapic_self_ipi(VEC_SELF);
  __asm__ volatile("cli");
  lapic_set_base(LAPIC_DEFAULT_BASE);
  report(moved && ipis == 2 && lapic_read(LAPIC_VERSION) == 0xffffffff,
         "relocated: the page decodes at the new base only, a self IPI arrives");
  wrmsr(MSR_APIC_BASE, base);
  report(lapic_read(LAPIC_VERSION) == version && rdmsr(MSR_APIC_BASE) == base,
         "moved back: the page decodes at 0xFEE00000 again");
  return report_summary();
}
