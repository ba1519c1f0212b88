/* GDT selectors (the table is in entry.S). Plain #defines: included from C
 * and from the .S files. User data comes before user code, the order SYSRET
 * expects (SDM vol. 2B, SYSRET). */
#ifndef RRVM_GUEST_GDT_H
#define RRVM_GUEST_GDT_H

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS 0x1B /* 0x18 | RPL 3 */
#define USER_CS 0x23 /* 0x20 | RPL 3 */
#define TSS_SEL 0x28 /* 16-byte 64-bit TSS descriptor, filled in by idt.c */

#endif
