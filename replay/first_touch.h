// Bisect's way through its final interval without single-stepping it all
// (replay/bisect.cc, phase 3). Two vCPUs that stand with equal registers,
// their RAM differing only in a few pages, execute alike until an
// instruction touches a byte where the RAMs differ: nothing else in the
// interval is different (devices act only at exits). So both run freely
// with those pages trapped (vmm/page_trap.h) to that instruction, which
// each then completes with its own memory, single-stepped. If registers
// differ after it, it is the divergent instruction; if not, the search goes
// on from there. That is exact only while the CPU reads the differing pages
// through instructions alone. KVM walks a trapped page table as no memory
// (a page fault the real run never takes), so the caller traps no page the
// CPU reads by itself (system_pages: page tables, descriptor tables), and
// checks again where the run stopped, with the control registers, that the
// guest made none of them one on the way (one linked into the page tables
// and unlinked again between two stops would escape that check: no guest
// known here builds page tables in a page that differs, and catching it
// would mean write-protecting every table page). Instruction fetches from a
// trapped page do not become MMIO exits but emulation failures: they stop
// the run as anything else does.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "devices/guest_memory.h"
#include "replay/memory_diff.h"
#include "vmm/page_trap.h"
#include "vmm/vcpu.h"

namespace rrvm {

// The pages the CPU reads by itself, not through an instruction's operands:
// the paging structures under CR3 and the pages of the GDT, LDT, IDT and
// TSS. Nullopt where that is not known here: paging modes other than none
// and IA-32e 4-level, a table outside RAM, or more than `max_pages`.
std::optional<std::vector<uint64_t>> system_pages(const Vcpu& vcpu, const GuestMemory& mem,
                                                  size_t max_pages = 8192);

enum class TouchStop {
  kTouch,  // about to touch a differing byte: the MMIO exit is pending, RIP at the instruction
  kStuck,  // an instruction KVM cannot complete on trapped memory (below)
  kOther,  // anything else stopped the run (the run area holds it), or `max_exits` trapped
           // accesses were completed without touching
};

// KVM's emulator completes ordinary loads and stores on MMIO, but not the
// reads it makes as "system" accesses: LGDT's operand on a trapped page
// exits for the same 4 bytes again and again, however often completed.
// The same access from the same RIP this many times over is taken as that
// (a guest polling one trapped word can look alike: it is then given up
// on too, which costs time, not exactness). The access is left completed
// from RAM and pending; once the pages are mapped again,
// Vcpu::finish_pending_exit() completes the instruction.
inline constexpr int kStuckRepeats = 3;

// Runs `vcpu` with `trap` in place, completing accesses to the trapped pages
// that miss `diff`, until one hits it or anything else stops the vCPU.
TouchStop run_to_touch(Vcpu& vcpu, PageTrap& trap, const DifferingMemory& diff, uint64_t max_exits);

// Completes the pending access and the rest of its instruction from this
// machine's own memory, single-stepping: true when the vCPU then stands
// right after the instruction (KVM_EXIT_DEBUG); false if anything else
// stopped it. Single-stepping is off again afterwards.
bool finish_instruction(Vcpu& vcpu, PageTrap& trap);

}  // namespace rrvm
