/* nmi: NMIs sent through the local APIC's ICR reach the CPU, once each, and
 * one sent while the CPU handles another waits for that handler's IRET
 * (Intel SDM vol. 3A, 6.7.1 "Handling Multiple NMIs"): a self NMI is taken
 * at once, also with interrupts disabled; ten NMIs sent from inside the NMI
 * handler arrive after its IRET as one. The wait for that one is a ring-0
 * busy loop with no exits, so the VMM must come back for it by itself. */
#include "apic.h"
#include "rt.h"

#define ICR_NMI 0x400u /* delivery mode NMI, physical destination, no shorthand */
#define VEC_NMI 2

static volatile uint32_t nmis, send_from_handler;

static void send_nmi(void) {
  lapic_write(LAPIC_ICR_HIGH, lapic_id() << 24);
  lapic_write(LAPIC_ICR_LOW, ICR_NMI);
}

static void on_nmi(struct frame* f) {
  (void)f;
  ++nmis;
  for (; send_from_handler > 0; --send_from_handler) send_nmi();
}

int main(uint32_t magic, struct mb_info* info) {
  (void)magic, (void)info;
  lapic_enable();
  exception_register(VEC_NMI, on_nmi);

  send_nmi();
  report(nmis == 1, "a self NMI through the ICR is taken at once");

  __asm__ volatile("cli");
  send_nmi();
  report(nmis == 2, "with interrupts disabled too");

  nmis = 0;
  send_from_handler = 10;
  send_nmi();
  for (uint32_t i = 0; nmis < 2 && i < 20000000; ++i) __asm__ volatile("pause");
  report(nmis == 2, "ten NMIs sent while one is handled arrive after its IRET, as one");
  return report_summary();
}
