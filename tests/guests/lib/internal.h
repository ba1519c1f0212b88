/* Declarations shared only inside the runtime. */
#ifndef RRVM_GUEST_INTERNAL_H
#define RRVM_GUEST_INTERNAL_H

#include "rt.h"

#define VEC_IRQ0 0x20
#define VEC_GP 13

void serial_init(void);
void idt_init(void);
void ring3_return(struct frame* f) __attribute__((noreturn));

/* isr.S */
extern const char isr_stubs[];
extern const char ring3_exit[];
extern uint64_t gdt[];
int ctx_save(uint64_t ctx[8]) __attribute__((returns_twice));
void ctx_restore(uint64_t ctx[8], uint64_t v) __attribute__((noreturn));
void enter_ring3(uint64_t (*fn)(void), void* stack_top) __attribute__((noreturn));

#endif
