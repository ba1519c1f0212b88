#include "replay/first_touch.h"

#include <algorithm>

#include "vmm/page_walk.h"
#include "vmm/x86_arch.h"

namespace rrvm {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;  // bits 51:12 of an entry (SDM 4.5.4)
constexpr uint64_t kPresent = 1, kPageSize = 1 << 7;

class PageSet {
 public:
  PageSet(const GuestMemory& mem, size_t max) : mem_(mem), max_(max) {}
  // False when the page is not RAM or the set is full.
  bool add(uint64_t gpa) {
    gpa &= ~(kPage - 1);
    uint8_t probe = 0;
    if (pages_.size() >= max_ || !mem_.read(gpa, {&probe, 1})) return false;
    pages_.push_back(gpa);
    return true;
  }
  // The paging structure at `table` (level 4: a PML4) and those below it.
  bool add_tables(uint64_t table, int level) {
    if (!add(table)) return false;
    if (level == 1) return true;
    uint64_t entries[512];
    if (!mem_.read(table, {reinterpret_cast<uint8_t*>(entries), sizeof entries})) return false;
    for (uint64_t e : entries) {
      if (!(e & kPresent) || (level < 4 && (e & kPageSize))) continue;
      if (!add_tables(e & kAddrMask, level - 1)) return false;
    }
    return true;
  }
  // The pages under linear [base, base + limit], through the page tables.
  bool add_linear(const kvm_sregs& sregs, uint64_t base, uint64_t limit) {
    for (uint64_t va = base & ~(kPage - 1); va <= base + limit; va += kPage) {
      uint64_t gpa = va;
      if (sregs.cr0 & kCr0Pg) {
        PageWalk w = walk_page_tables(mem_, sregs, va);
        if (w.kind != PageWalk::kMapped) return false;
        gpa = w.gpa;
      }
      if (!add(gpa)) return false;
    }
    return true;
  }
  std::vector<uint64_t> take() {
    std::sort(pages_.begin(), pages_.end());
    pages_.erase(std::unique(pages_.begin(), pages_.end()), pages_.end());
    return std::move(pages_);
  }

 private:
  const GuestMemory& mem_;
  size_t max_;
  std::vector<uint64_t> pages_;
};

}  // namespace

std::optional<std::vector<uint64_t>> system_pages(const Vcpu& vcpu, const GuestMemory& mem,
                                                  size_t max_pages) {
  kvm_sregs s = vcpu.get_sregs();
  PageSet set(mem, max_pages);
  if (s.cr0 & kCr0Pg) {
    bool four_level = (s.cr4 & kCr4Pae) && (s.efer & kEferLma) && !(s.cr4 & kCr4La57);
    if (!four_level || !set.add_tables(s.cr3 & kAddrMask, 4)) return std::nullopt;
  }
  if (!set.add_linear(s, s.gdt.base, s.gdt.limit) || !set.add_linear(s, s.idt.base, s.idt.limit))
    return std::nullopt;
  for (const kvm_segment* seg : {&s.tr, &s.ldt}) {
    if (seg->present && !seg->unusable && !set.add_linear(s, seg->base, seg->limit))
      return std::nullopt;
  }
  return set.take();
}

TouchStop run_to_touch(Vcpu& vcpu, PageTrap& trap, const DifferingMemory& diff,
                       uint64_t max_exits) {
  vcpu.set_guest_debug(kvm_guest_debug{});
  struct Access {
    uint64_t rip, gpa;
    uint32_t len;
    bool write;
    bool operator==(const Access&) const = default;
  } last{};
  int repeats = 0;
  for (uint64_t n = 0; n < max_exits; ++n) {
    while (!vcpu.run()) vcpu.run_area()->immediate_exit = 0;  // a stray kick: on
    kvm_run& run = *vcpu.run_area();
    if (run.exit_reason != KVM_EXIT_MMIO || !trap.holds(run.mmio.phys_addr)) break;
    if (diff.touches(run.mmio.phys_addr, run.mmio.len)) return TouchStop::kTouch;
    Access now{vcpu.get_regs().rip, run.mmio.phys_addr, run.mmio.len, run.mmio.is_write != 0};
    repeats = now == last ? repeats + 1 : 0;
    last = now;
    if (!trap.complete(run)) break;
    if (repeats == kStuckRepeats) return TouchStop::kStuck;
  }
  return TouchStop::kOther;
}

bool finish_instruction(Vcpu& vcpu, PageTrap& trap) {
  kvm_guest_debug step{};
  step.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
  vcpu.set_guest_debug(step);
  bool done = false;
  // An instruction makes a few accesses at most (a page-crossing operand,
  // a string move's iteration); more means something else is going on.
  for (int accesses = 0; accesses < 16 && trap.complete(*vcpu.run_area()); ++accesses) {
    while (!vcpu.run()) vcpu.run_area()->immediate_exit = 0;  // a stray kick: on
    if (vcpu.run_area()->exit_reason == KVM_EXIT_DEBUG) {
      done = true;
      break;
    }
  }
  vcpu.set_guest_debug(kvm_guest_debug{});
  return done;
}

}  // namespace rrvm
