/* Multiboot 1 entry for the test guests: from the 32-bit protected-mode
 * state the Multiboot spec (0.6.96, 3.2) guarantees straight into 64-bit long
 * mode, as kvm-unit-tests does, because the hosts rrvm is tested on cannot
 * take interrupts in 32-bit mode. Identity-maps 4 GiB with 2 MiB pages
 * (user-accessible, so ring-3 tests can run anywhere), then calls
 * rt_start(magic, info) in C. Also holds the IDT stubs and the ring-3 and
 * context-switch helpers. */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003  /* page-aligned modules, memory info */

  .section .multiboot, "a"
  .align 4
  .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

  .section .bss
  .align 4096
pml4: .skip 4096
pdpt: .skip 4096
pds:  .skip 4 * 4096
  .align 16
  .globl stack_bottom, stack_top
stack_bottom: .skip 16384
stack_top:
mb_magic: .long 0
mb_info:  .long 0

  .section .data
  .align 16
  .globl gdt
gdt:
  .quad 0                   /* null */
  .quad 0x00AF9A000000FFFF  /* 0x08 kernel code, 64-bit */
  .quad 0x00CF92000000FFFF  /* 0x10 kernel data */
  .quad 0x00CFF2000000FFFF  /* 0x18 user data (DPL 3) */
  .quad 0x00AFFA000000FFFF  /* 0x20 user code, 64-bit (DPL 3) */
  .quad 0, 0                /* 0x28 TSS, filled in by rt.c */
gdt_end:
  .globl gdt_ptr
gdt_ptr:
  .word gdt_end - gdt - 1
  .quad gdt

  .section .text
  .code32
  .globl _start
_start:
  cli
  movl %eax, mb_magic
  movl %ebx, mb_info
  lgdt gdt_ptr
  /* PML4[0] -> PDPT, PDPT[0..3] -> PDs, PD entries: 2 MiB pages P|RW|US|PS. */
  movl $pdpt + 7, pml4
  xorl %ecx, %ecx
1:
  movl %ecx, %eax
  shll $12, %eax
  addl $pds + 7, %eax
  movl %eax, pdpt(, %ecx, 8)
  incl %ecx
  cmpl $4, %ecx
  jne 1b
  xorl %ecx, %ecx
2:
  movl %ecx, %eax
  shll $21, %eax
  orl $0x87, %eax
  movl %eax, pds(, %ecx, 8)
  incl %ecx
  cmpl $2048, %ecx
  jne 2b
  movl $pml4, %eax
  movl %eax, %cr3
  movl %cr4, %eax
  orl $0x20, %eax           /* CR4.PAE */
  movl %eax, %cr4
  movl $0xC0000080, %ecx    /* EFER */
  rdmsr
  orl $0x100, %eax          /* EFER.LME */
  wrmsr
  movl %cr0, %eax
  orl $0x80000001, %eax     /* CR0.PG | CR0.PE */
  movl %eax, %cr0
  ljmp $0x08, $start64

  .code64
start64:
  movw $0x10, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  movw %ax, %fs
  movw %ax, %gs
  movabsq $stack_top, %rsp
  movl mb_magic, %edi
  movl mb_info, %esi
  call rt_start
3:
  cli
  hlt
  jmp 3b

/* Interrupt stubs: push a zero error code where the CPU pushes none, then
 * the vector, and share one save/restore path into isr_dispatch(frame). */
.macro ISR_NOERR n
  .globl isr\n
isr\n:
  pushq $0
  pushq $\n
  jmp isr_common
.endm
.macro ISR_ERR n
  .globl isr\n
isr\n:
  pushq $\n
  jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_NOERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_NOERR 29
ISR_NOERR 30
ISR_NOERR 31
ISR_NOERR 32
ISR_NOERR 33
ISR_NOERR 34
ISR_NOERR 35
ISR_NOERR 36
ISR_NOERR 37
ISR_NOERR 38
ISR_NOERR 39
ISR_NOERR 40
ISR_NOERR 41
ISR_NOERR 42
ISR_NOERR 43
ISR_NOERR 44
ISR_NOERR 45
ISR_NOERR 46
ISR_NOERR 47

isr_common:
  pushq %rax
  pushq %rbx
  pushq %rcx
  pushq %rdx
  pushq %rsi
  pushq %rdi
  pushq %rbp
  pushq %r8
  pushq %r9
  pushq %r10
  pushq %r11
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, %rdi
  call isr_dispatch
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %r11
  popq %r10
  popq %r9
  popq %r8
  popq %rbp
  popq %rdi
  popq %rsi
  popq %rdx
  popq %rcx
  popq %rbx
  popq %rax
  addq $16, %rsp
  iretq

  .section .data
  .globl isr_table
  .align 8
isr_table:
  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
  .quad isr\n
  .endr

  .section .text
/* ctx_save(ctx): saves callee-saved registers, returns 0; ctx_restore(ctx,
 * v) makes that ctx_save return v (setjmp/longjmp). */
  .globl ctx_save, ctx_restore
ctx_save:
  movq %rbx, 0(%rdi)
  movq %rbp, 8(%rdi)
  movq %r12, 16(%rdi)
  movq %r13, 24(%rdi)
  movq %r14, 32(%rdi)
  movq %r15, 40(%rdi)
  leaq 8(%rsp), %rax
  movq %rax, 48(%rdi)
  movq (%rsp), %rax
  movq %rax, 56(%rdi)
  xorl %eax, %eax
  ret
ctx_restore:
  movq 0(%rdi), %rbx
  movq 8(%rdi), %rbp
  movq 16(%rdi), %r12
  movq 24(%rdi), %r13
  movq 32(%rdi), %r14
  movq 40(%rdi), %r15
  movq 48(%rdi), %rsp
  movq %rsi, %rax
  jmp *56(%rdi)

/* enter_ring3(fn, user_stack): iretq to ring3_trampoline at CPL 3 with
 * interrupts on; the trampoline calls fn and hands its result back by
 * executing HLT, which at CPL 3 raises #GP(0): the handler sees it at
 * ring3_exit and returns to ring 0 instead. (A DPL-3 `int $0x80` gate would
 * be the textbook way, but nested PVM hosts turn a ring-3 `int` into #UD.) */
  .globl enter_ring3
enter_ring3:
  pushq $0x1b               /* SS: user data | RPL 3 */
  pushq %rsi                /* RSP */
  pushq $0x202              /* RFLAGS: IF */
  pushq $0x23               /* CS: user code | RPL 3 */
  movabsq $ring3_trampoline, %rax
  pushq %rax
  iretq
ring3_trampoline:
  call *%rdi
  .globl ring3_exit
ring3_exit:
  hlt
4:
  jmp 4b
