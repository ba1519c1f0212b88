// CPUID feature flags by name, and the table operations the CPU models and
// the host checks are built from. Names are Linux's /proc/cpuinfo spellings
// (arch/x86/include/asm/cpufeatures.h), so a refusal names a feature the way
// a kernel developer knows it; bit positions are from the Intel SDM vol. 2A
// (CPUID) and the AMD APM vol. 3, appendix E.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/kvm.h"

namespace rrvm {

enum class CpuReg : uint8_t { kEax, kEbx, kEcx, kEdx };

// One flag bit: CPUID.(function, index).reg[bit].
struct CpuFeature {
  const char* name;
  uint32_t function;
  uint32_t index;
  CpuReg reg;
  uint8_t bit;
};

// Every named flag rrvm knows.
std::span<const CpuFeature> cpu_features();
// By name ("cx16", "xsave"); null if unknown.
const CpuFeature* find_cpu_feature(std::string_view name);

// The leaf (function, index) or null. Leaves whose index KVM ignores
// (no KVM_CPUID_FLAG_SIGNIFCANT_INDEX) match any index.
CpuidEntry* find_leaf(std::vector<CpuidEntry>& table, uint32_t function, uint32_t index = 0);
const CpuidEntry* find_leaf(const std::vector<CpuidEntry>& table, uint32_t function,
                            uint32_t index = 0);
uint32_t& reg_of(CpuidEntry& e, CpuReg r);
uint32_t reg_of(const CpuidEntry& e, CpuReg r);

bool has_feature(const std::vector<CpuidEntry>& table, const CpuFeature& f);
// Clears `f` and every feature that cannot work without it (AVX without
// XSAVE, ...), as Linux's cpuid-deps.c does; clearing XSAVE also empties
// leaf 0xD. Returns the names cleared that were set.
std::vector<std::string> clear_feature(std::vector<CpuidEntry>& table, const CpuFeature& f);

// A flag bit as it is shown to people: its name, or "cpuid.7.0.ebx[5]"
// for a bit without one.
std::string feature_bit_name(uint32_t function, uint32_t index, CpuReg reg, uint8_t bit);

// The registers of the table that hold feature flags (not counts, sizes or
// identity): what is compared when a table must run on a host.
struct FlagWord {
  uint32_t function;
  uint32_t index;
  CpuReg reg;
};
std::span<const FlagWord> flag_words();

// Every flag bit set in `table`'s flag words, by feature_bit_name(), in
// flag_words() order. Bits KVM sets from guest state at run time (osxsave,
// ospke) are left out: they are not features a host offers.
std::vector<std::string> set_flag_names(const std::vector<CpuidEntry>& table);
// Zeroes every flag word of `table` (the leaves stay).
void clear_flag_words(std::vector<CpuidEntry>& table);

// Physical address bits (CPUID 0x80000008 EAX[7:0]); nullopt without the leaf.
std::optional<uint8_t> physical_address_bits(const std::vector<CpuidEntry>& table);

}  // namespace rrvm
