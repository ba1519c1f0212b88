/* Ring-3 excursions: run_in_ring3 saves its context and IRETQs into the
 * trampoline in isr.S at CPL 3; when fn returns, the trampoline's HLT at
 * ring3_exit faults (#GP), and idt.c hands that fault to ring3_return, which
 * resumes the saved context. The interrupt gate cleared IF, so run_in_ring3
 * returns with interrupts off. */
#include "internal.h"

static uint64_t kernel_ctx[8];
static volatile uint64_t ring3_result;
static uint8_t user_stack[16384] __attribute__((aligned(16)));

uint64_t run_in_ring3(uint64_t (*fn)(void)) {
  if (ctx_save(kernel_ctx) == 0) enter_ring3(fn, user_stack + sizeof user_stack);
  return ring3_result;
}

void ring3_return(struct frame* f) {
  ring3_result = f->rax;
  ctx_restore(kernel_ctx, 1);
}
