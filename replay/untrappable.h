// Instructions KVM executes without an exit, so rrvm cannot record what they
// return (DESIGN.md, "What KVM cannot trap"): RDTSC, RDTSCP, RDRAND, RDSEED.
// When replay diverges, finding one near RIP is the most likely explanation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rrvm {

struct UntrappableHit {
  uint64_t address;
  std::string text;  // "rdtsc", "rdrand eax", ...
};

// Decodes (Capstone, x86-64) every candidate opcode in `code`, which starts
// at guest address `base`, and returns the confirmed instructions.
std::vector<UntrappableHit> find_untrappable(std::span<const uint8_t> code, uint64_t base);

// When no instruction near RIP explains a divergence (a digest that differs
// at the end of the run, far from where the guest read the TSC): the
// untrappable instructions in the kernel image's executable ELF segments,
// at their virtual addresses, as a report hint; "" when there are none or
// the image is not ELF.
std::string untrappable_in_kernel_hint(std::span<const uint8_t> kernel);

}  // namespace rrvm
