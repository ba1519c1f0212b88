/* Multiboot 1 entry of the test guests (Multiboot spec 0.6.96, 3.1-3.2).
 *
 * The loader leaves us in 32-bit protected mode with flat segments, paging
 * off, interrupts off, EAX = 0x2BADB002 and EBX = the info address, but with
 * no usable stack and a GDT we must not rely on. We go straight on to 64-bit
 * long mode, as kvm-unit-tests does, because the nested hosts rrvm is tested
 * on cannot deliver interrupts in 32-bit mode. The code is assembled as
 * 64-bit ELF and objcopy'd to ELF32 so QEMU's -kernel takes the same file.
 *
 * Memory map: the first 4 GiB identity-mapped with 2 MiB pages (so the IOAPIC
 * at 0xFEC00000 and the LAPIC at 0xFEE00000 are reachable later), all
 * user-accessible so a ring-3 test can run code and touch data anywhere. */

#define MB_HEADER_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* bit 0: page-aligned modules, bit 1: memory info */

#define PTE_P 0x01
#define PTE_RW 0x02
#define PTE_US 0x04
#define PTE_PS 0x80         /* 2 MiB page in a page directory entry */
#define CR0_PE 0x00000001
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xC0000080
#define EFER_LME 0x00000100

#include "gdt.h"

  /* Spec 3.1.1: the header must be 32-bit aligned in the first 8 KiB. */
  .section .multiboot, "a"
  .balign 4
  .long MB_HEADER_MAGIC, MB_FLAGS, -(MB_HEADER_MAGIC + MB_FLAGS)

  .section .bss
  .balign 4096
pml4: .skip 4096
pdpt: .skip 4096
pds:  .skip 4 * 4096        /* one page directory per GiB */
  .balign 16
stack_bottom: .skip 16384
stack_top:
saved_magic: .long 0
saved_info:  .long 0

  /* Selectors: gdt.h. */
  .section .data
  .balign 16
  .globl gdt
gdt:
  .quad 0                   /* null */
  .quad 0x00AF9A000000FFFF  /* 0x08 kernel code: L=1, DPL 0 */
  .quad 0x00CF92000000FFFF  /* 0x10 kernel data */
  .quad 0x00CFF2000000FFFF  /* 0x18 user data, DPL 3 */
  .quad 0x00AFFA000000FFFF  /* 0x20 user code: L=1, DPL 3 */
  .quad 0, 0                /* 0x28 64-bit TSS descriptor (16 bytes) */
gdt_end:
gdt_ptr:
  .word gdt_end - gdt - 1
  .quad gdt                 /* lgdt in 32-bit mode reads the low 4 bytes */

  .section .text
  .code32
  .globl _start
_start:
  cli
  movl %eax, saved_magic
  movl %ebx, saved_info
  lgdt gdt_ptr

  /* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories. The tables are
   * in .bss, which the loader zeroes (spec 3.1.3 for ELF: memsz > filesz). */
  movl $pdpt + (PTE_P | PTE_RW | PTE_US), pml4
  xorl %ecx, %ecx
1:
  movl %ecx, %eax
  shll $12, %eax
  addl $pds + (PTE_P | PTE_RW | PTE_US), %eax
  movl %eax, pdpt(, %ecx, 8)
  incl %ecx
  cmpl $4, %ecx
  jne 1b

  /* 2048 PDEs of 2 MiB each = 4 GiB; the high dword stays zero. */
  xorl %ecx, %ecx
2:
  movl %ecx, %eax
  shll $21, %eax
  orl $(PTE_P | PTE_RW | PTE_US | PTE_PS), %eax
  movl %eax, pds(, %ecx, 8)
  incl %ecx
  cmpl $2048, %ecx
  jne 2b

  /* SDM vol. 3A, 10.8.5: CR3, CR4.PAE, EFER.LME, then CR0.PG; the far jump
   * to a 64-bit code segment completes the switch. */
  movl $pml4, %eax
  movl %eax, %cr3
  movl %cr4, %eax
  orl $CR4_PAE, %eax
  movl %eax, %cr4
  movl $MSR_EFER, %ecx
  rdmsr
  orl $EFER_LME, %eax
  wrmsr
  movl %cr0, %eax
  orl $(CR0_PG | CR0_PE), %eax
  movl %eax, %cr0
  ljmp $KERNEL_CS, $start64

  .code64
start64:
  movw $KERNEL_DS, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  movw %ax, %fs
  movw %ax, %gs
  movabsq $stack_top, %rsp
  movl saved_magic, %edi
  movl saved_info, %esi
  call rt_start             /* does not return */
3:
  cli
  hlt
  jmp 3b
