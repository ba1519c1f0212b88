/* Interrupt entry stubs, the ring-3 trampoline and a setjmp-like context
 * switch for the test guests' runtime. */

#include "gdt.h"

#define RFLAGS_IF 0x200
#define RFLAGS_RSVD1 0x002  /* bit 1 always reads as 1 */

  .section .text
  .code64

/* One 16-byte stub per vector 0-63 at isr_stubs + 16 * vector, so idt.c can
 * compute the addresses. The CPU pushes an error code only for the vectors
 * in SDM vol. 3A, 6.15 (8, 10-14, 17, 21, 29, 30); the others push a zero so
 * every frame has the same layout (struct frame in rt.h). */
  .balign 16
  .globl isr_stubs
isr_stubs:
  .set vec, 0
  .rept 64
  .balign 16
  .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
  .else
  pushq $0
  .endif
  pushq $vec
  jmp isr_common
  .set vec, vec + 1
  .endr
  .org isr_stubs + 64 * 16   /* fails to assemble if a stub outgrew 16 bytes */

/* 15 pushes + vector + error + the CPU's 5 = 22 quadwords, so RSP (aligned
 * to 16 by the CPU in 64-bit mode) is aligned again at the call. */
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
  cld
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
  addq $16, %rsp            /* vector and error code */
  iretq

/* int ctx_save(uint64_t ctx[8]): saves the callee-saved registers, the
 * caller's RSP and the return address, returns 0.
 * void ctx_restore(uint64_t ctx[8], uint64_t v): resumes at that ctx_save,
 * which then returns v. Also reloads the kernel data segments, because an
 * interrupt from ring 3 leaves SS null (SDM vol. 3A, 6.14.4). */
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
  movw $KERNEL_DS, %ax
  movw %ax, %ss
  movw %ax, %ds
  movw %ax, %es
  movq 0(%rdi), %rbx
  movq 8(%rdi), %rbp
  movq 16(%rdi), %r12
  movq 24(%rdi), %r13
  movq 32(%rdi), %r14
  movq 40(%rdi), %r15
  movq 48(%rdi), %rsp
  movq %rsi, %rax
  jmp *56(%rdi)

/* void enter_ring3(uint64_t (*fn)(void), void* stack_top): IRETQ to
 * ring3_trampoline at CPL 3 with interrupts enabled. The trampoline calls fn
 * and hands its result (RAX) back by executing HLT at ring3_exit: at CPL 3
 * that raises #GP(0) (SDM vol. 2A, HLT), and idt.c turns exactly that fault
 * into the return to ring 0. A DPL-3 `int $0x80` gate or SYSCALL would be
 * the textbook way, but on the nested hosts rrvm is tested on a ring-3
 * `int $0x80` arrives as #UD, and SYSCALL reaches LSTAR still at CPL 3. */
  .globl enter_ring3, ring3_exit
enter_ring3:
  pushq $USER_DS            /* SS */
  pushq %rsi                /* RSP */
  pushq $(RFLAGS_IF | RFLAGS_RSVD1)
  pushq $USER_CS
  movabsq $ring3_trampoline, %rax
  pushq %rax
  iretq
ring3_trampoline:
  call *%rdi
ring3_exit:
  hlt
  ud2                       /* not reached: ring 0 never returns here */
