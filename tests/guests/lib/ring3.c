/* Ring-3 excursions: run_in_ring3 saves its context, IRETQs into the
 * trampoline in isr.S at CPL 3, and the trampoline's SYSCALL lands in
 * syscall_entry (isr.S), which stores RAX and resumes the saved context.
 * FMASK clears IF, so run_in_ring3 returns with interrupts off. */
#include "internal.h"

#define MSR_EFER 0xC0000080
#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_FMASK 0xC0000084
#define EFER_SCE 0x1
#define RFLAGS_TF 0x100
#define RFLAGS_IF 0x200
#define RFLAGS_DF 0x400
#define RFLAGS_AC 0x40000

uint64_t ring3_ctx[8];
volatile uint64_t ring3_result;
static uint8_t user_stack[16384] __attribute__((aligned(16)));

/* SDM vol. 2B, SYSCALL: CS = STAR[47:32], SS = STAR[47:32] + 8; SYSRET
 * would use STAR[63:48] + 16 / + 8, which is why the user selectors are
 * data (0x18) then code (0x20). */
static void syscall_init(void) {
  wrmsr(MSR_STAR, (uint64_t)(USER_DS - 3 - 8) << 48 | (uint64_t)KERNEL_CS << 32);
  wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
  wrmsr(MSR_FMASK, RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_AC);
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
}

uint64_t run_in_ring3(uint64_t (*fn)(void)) {
  syscall_init();
  if (ctx_save(ring3_ctx) == 0) enter_ring3(fn, user_stack + sizeof user_stack);
  return ring3_result;
}
