/* Local APIC (SDM vol. 3A, chapter 11) and 82093AA I/O APIC, memory-mapped.
 * The bases come from the MP table or the MADT; LAPIC_DEFAULT_BASE and
 * IOAPIC_DEFAULT_BASE are the architectural defaults (MP spec 1.4, 3.6.1). */
#ifndef RRVM_GUEST_APIC_H
#define RRVM_GUEST_APIC_H

#include <stdint.h>

#define LAPIC_DEFAULT_BASE 0xFEE00000u
#define IOAPIC_DEFAULT_BASE 0xFEC00000u

/* LAPIC registers (offsets). */
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0B0
#define LAPIC_SVR 0x0F0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3E0

#define LVT_MASKED 0x10000u
#define LVT_TIMER_PERIODIC 0x20000u
#define LVT_DELIVERY_NMI 0x400u
#define LVT_DELIVERY_EXTINT 0x700u

/* I/O APIC redirection entry flags (low dword). */
#define IOAPIC_ACTIVE_LOW 0x2000u
#define IOAPIC_LEVEL 0x8000u
#define IOAPIC_MASKED 0x10000u

void lapic_set_base(uint64_t base);
uint64_t lapic_base(void);
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
uint32_t lapic_id(void); /* bits 31:24 of the ID register */
/* SVR: software enable, spurious vector VEC_APIC_SPURIOUS; TPR 0; LINT0
 * (ExtINT from the 8259 in virtual-wire mode) masked, LINT1 NMI. */
void lapic_enable(void);
void lapic_eoi(void);
/* Tells lapic_eoi() (and the interrupt dispatch that calls it) that the
 * APIC is now in x2APIC mode (1) or not (0): EOI goes to MSR 0x80B then. */
void lapic_x2apic_mode(int on);
/* divide: the divide-configuration value (0xB = by 1, 0x3 = by 16). */
void lapic_timer_start(uint8_t vector, uint32_t initial, int periodic, uint32_t divide);
void lapic_timer_stop(void);
uint32_t lapic_timer_current(void);
void lapic_self_ipi(uint8_t vector);

uint32_t ioapic_read(uint64_t base, uint32_t reg);
void ioapic_write(uint64_t base, uint32_t reg, uint32_t v);
uint8_t ioapic_id(uint64_t base); /* register 0 bits 27:24 */
int ioapic_pins(uint64_t base);   /* register 1 bits 23:16, plus one */
/* Fixed delivery, physical destination `dest` (a LAPIC ID), unmasked. */
void ioapic_route(uint64_t base, int pin, uint8_t vector, uint32_t flags, uint8_t dest);
void ioapic_mask(uint64_t base, int pin);
/* MP-table interrupt flags (polarity bits 1:0, trigger 3:2) to redirection
 * flags; "conforms" is the bus default: edge/high for ISA, level/low for
 * PCI (as NetBSD treats it). */
uint32_t ioapic_flags_from_mp(uint16_t mp_flags, int is_pci);

/* IMCR (MP spec 3.6.2.1): switch the BSP's INTR/NMI from the 8259 to the
 * APIC when the floating pointer says the IMCR is present. */
void imcr_apic_mode(void);

#endif
