#include "vmm/cpu_features.h"

#include <array>
#include <cstdio>

namespace rrvm {

namespace {

using R = CpuReg;
constexpr uint32_t kExt = 0x80000000;

// clang-format off
constexpr CpuFeature kFeatures[] = {
    // CPUID.01H:EDX
    {"fpu", 1, 0, R::kEdx, 0}, {"vme", 1, 0, R::kEdx, 1}, {"de", 1, 0, R::kEdx, 2},
    {"pse", 1, 0, R::kEdx, 3}, {"tsc", 1, 0, R::kEdx, 4}, {"msr", 1, 0, R::kEdx, 5},
    {"pae", 1, 0, R::kEdx, 6}, {"mce", 1, 0, R::kEdx, 7}, {"cx8", 1, 0, R::kEdx, 8},
    {"apic", 1, 0, R::kEdx, 9}, {"sep", 1, 0, R::kEdx, 11}, {"mtrr", 1, 0, R::kEdx, 12},
    {"pge", 1, 0, R::kEdx, 13}, {"mca", 1, 0, R::kEdx, 14}, {"cmov", 1, 0, R::kEdx, 15},
    {"pat", 1, 0, R::kEdx, 16}, {"pse36", 1, 0, R::kEdx, 17}, {"pn", 1, 0, R::kEdx, 18},
    {"clflush", 1, 0, R::kEdx, 19}, {"dts", 1, 0, R::kEdx, 21}, {"acpi", 1, 0, R::kEdx, 22},
    {"mmx", 1, 0, R::kEdx, 23}, {"fxsr", 1, 0, R::kEdx, 24}, {"sse", 1, 0, R::kEdx, 25},
    {"sse2", 1, 0, R::kEdx, 26}, {"ss", 1, 0, R::kEdx, 27}, {"ht", 1, 0, R::kEdx, 28},
    {"tm", 1, 0, R::kEdx, 29}, {"pbe", 1, 0, R::kEdx, 31},
    // CPUID.01H:ECX
    {"pni", 1, 0, R::kEcx, 0}, {"pclmulqdq", 1, 0, R::kEcx, 1}, {"dtes64", 1, 0, R::kEcx, 2},
    {"monitor", 1, 0, R::kEcx, 3}, {"ds_cpl", 1, 0, R::kEcx, 4}, {"vmx", 1, 0, R::kEcx, 5},
    {"smx", 1, 0, R::kEcx, 6}, {"est", 1, 0, R::kEcx, 7}, {"tm2", 1, 0, R::kEcx, 8},
    {"ssse3", 1, 0, R::kEcx, 9}, {"cid", 1, 0, R::kEcx, 10}, {"sdbg", 1, 0, R::kEcx, 11},
    {"fma", 1, 0, R::kEcx, 12}, {"cx16", 1, 0, R::kEcx, 13}, {"xtpr", 1, 0, R::kEcx, 14},
    {"pdcm", 1, 0, R::kEcx, 15}, {"pcid", 1, 0, R::kEcx, 17}, {"dca", 1, 0, R::kEcx, 18},
    {"sse4_1", 1, 0, R::kEcx, 19}, {"sse4_2", 1, 0, R::kEcx, 20}, {"x2apic", 1, 0, R::kEcx, 21},
    {"movbe", 1, 0, R::kEcx, 22}, {"popcnt", 1, 0, R::kEcx, 23},
    {"tsc_deadline_timer", 1, 0, R::kEcx, 24}, {"aes", 1, 0, R::kEcx, 25},
    {"xsave", 1, 0, R::kEcx, 26}, {"osxsave", 1, 0, R::kEcx, 27}, {"avx", 1, 0, R::kEcx, 28},
    {"f16c", 1, 0, R::kEcx, 29}, {"rdrand", 1, 0, R::kEcx, 30},
    {"hypervisor", 1, 0, R::kEcx, 31},
    // CPUID.06H:EAX
    {"arat", 6, 0, R::kEax, 2},
    // CPUID.(07H,0):EBX
    {"fsgsbase", 7, 0, R::kEbx, 0}, {"tsc_adjust", 7, 0, R::kEbx, 1}, {"sgx", 7, 0, R::kEbx, 2},
    {"bmi1", 7, 0, R::kEbx, 3}, {"hle", 7, 0, R::kEbx, 4}, {"avx2", 7, 0, R::kEbx, 5},
    {"smep", 7, 0, R::kEbx, 7}, {"bmi2", 7, 0, R::kEbx, 8}, {"erms", 7, 0, R::kEbx, 9},
    {"invpcid", 7, 0, R::kEbx, 10}, {"rtm", 7, 0, R::kEbx, 11}, {"mpx", 7, 0, R::kEbx, 14},
    {"avx512f", 7, 0, R::kEbx, 16}, {"avx512dq", 7, 0, R::kEbx, 17},
    {"rdseed", 7, 0, R::kEbx, 18}, {"adx", 7, 0, R::kEbx, 19}, {"smap", 7, 0, R::kEbx, 20},
    {"avx512ifma", 7, 0, R::kEbx, 21}, {"clflushopt", 7, 0, R::kEbx, 23},
    {"clwb", 7, 0, R::kEbx, 24}, {"intel_pt", 7, 0, R::kEbx, 25},
    {"avx512pf", 7, 0, R::kEbx, 26}, {"avx512er", 7, 0, R::kEbx, 27},
    {"avx512cd", 7, 0, R::kEbx, 28}, {"sha_ni", 7, 0, R::kEbx, 29},
    {"avx512bw", 7, 0, R::kEbx, 30}, {"avx512vl", 7, 0, R::kEbx, 31},
    // CPUID.(07H,0):ECX
    {"avx512vbmi", 7, 0, R::kEcx, 1}, {"umip", 7, 0, R::kEcx, 2}, {"pku", 7, 0, R::kEcx, 3},
    {"ospke", 7, 0, R::kEcx, 4}, {"waitpkg", 7, 0, R::kEcx, 5},
    {"avx512_vbmi2", 7, 0, R::kEcx, 6}, {"shstk", 7, 0, R::kEcx, 7}, {"gfni", 7, 0, R::kEcx, 8},
    {"vaes", 7, 0, R::kEcx, 9}, {"vpclmulqdq", 7, 0, R::kEcx, 10},
    {"avx512_vnni", 7, 0, R::kEcx, 11}, {"avx512_bitalg", 7, 0, R::kEcx, 12},
    {"avx512_vpopcntdq", 7, 0, R::kEcx, 14}, {"la57", 7, 0, R::kEcx, 16},
    {"rdpid", 7, 0, R::kEcx, 22}, {"cldemote", 7, 0, R::kEcx, 25},
    {"movdiri", 7, 0, R::kEcx, 27}, {"movdir64b", 7, 0, R::kEcx, 28},
    {"enqcmd", 7, 0, R::kEcx, 29}, {"pks", 7, 0, R::kEcx, 31},
    // CPUID.(07H,0):EDX
    {"avx512_4vnniw", 7, 0, R::kEdx, 2}, {"avx512_4fmaps", 7, 0, R::kEdx, 3},
    {"fsrm", 7, 0, R::kEdx, 4}, {"avx512_vp2intersect", 7, 0, R::kEdx, 8},
    {"md_clear", 7, 0, R::kEdx, 10}, {"serialize", 7, 0, R::kEdx, 14},
    {"tsxldtrk", 7, 0, R::kEdx, 16}, {"ibt", 7, 0, R::kEdx, 20},
    {"amx_bf16", 7, 0, R::kEdx, 22}, {"avx512_fp16", 7, 0, R::kEdx, 23},
    {"amx_tile", 7, 0, R::kEdx, 24}, {"amx_int8", 7, 0, R::kEdx, 25},
    {"spec_ctrl", 7, 0, R::kEdx, 26}, {"intel_stibp", 7, 0, R::kEdx, 27},
    {"flush_l1d", 7, 0, R::kEdx, 28}, {"arch_capabilities", 7, 0, R::kEdx, 29},
    {"core_capabilities", 7, 0, R::kEdx, 30}, {"spec_ctrl_ssbd", 7, 0, R::kEdx, 31},
    // CPUID.(07H,1):EAX
    {"avx_vnni", 7, 1, R::kEax, 4}, {"avx512_bf16", 7, 1, R::kEax, 5},
    {"fzrm", 7, 1, R::kEax, 10}, {"fsrs", 7, 1, R::kEax, 11}, {"fsrc", 7, 1, R::kEax, 12},
    {"amx_fp16", 7, 1, R::kEax, 21}, {"avx_ifma", 7, 1, R::kEax, 23}, {"lam", 7, 1, R::kEax, 26},
    // CPUID.(0DH,1):EAX
    {"xsaveopt", 0xd, 1, R::kEax, 0}, {"xsavec", 0xd, 1, R::kEax, 1},
    {"xgetbv1", 0xd, 1, R::kEax, 2}, {"xsaves", 0xd, 1, R::kEax, 3}, {"xfd", 0xd, 1, R::kEax, 4},
    // CPUID.80000001H:ECX
    {"lahf_lm", kExt | 1, 0, R::kEcx, 0}, {"cmp_legacy", kExt | 1, 0, R::kEcx, 1},
    {"svm", kExt | 1, 0, R::kEcx, 2}, {"extapic", kExt | 1, 0, R::kEcx, 3},
    {"cr8_legacy", kExt | 1, 0, R::kEcx, 4}, {"abm", kExt | 1, 0, R::kEcx, 5},
    {"sse4a", kExt | 1, 0, R::kEcx, 6}, {"misalignsse", kExt | 1, 0, R::kEcx, 7},
    {"3dnowprefetch", kExt | 1, 0, R::kEcx, 8}, {"osvw", kExt | 1, 0, R::kEcx, 9},
    {"ibs", kExt | 1, 0, R::kEcx, 10}, {"xop", kExt | 1, 0, R::kEcx, 11},
    {"skinit", kExt | 1, 0, R::kEcx, 12}, {"wdt", kExt | 1, 0, R::kEcx, 13},
    {"lwp", kExt | 1, 0, R::kEcx, 15}, {"fma4", kExt | 1, 0, R::kEcx, 16},
    {"tce", kExt | 1, 0, R::kEcx, 17}, {"nodeid_msr", kExt | 1, 0, R::kEcx, 19},
    {"tbm", kExt | 1, 0, R::kEcx, 21}, {"topoext", kExt | 1, 0, R::kEcx, 22},
    {"perfctr_core", kExt | 1, 0, R::kEcx, 23}, {"perfctr_nb", kExt | 1, 0, R::kEcx, 24},
    {"bpext", kExt | 1, 0, R::kEcx, 26}, {"perfctr_llc", kExt | 1, 0, R::kEcx, 28},
    {"mwaitx", kExt | 1, 0, R::kEcx, 29},
    // CPUID.80000001H:EDX (bits 0-9, 12-17, 23, 24 repeat CPUID.01H:EDX on AMD)
    {"syscall", kExt | 1, 0, R::kEdx, 11}, {"mp", kExt | 1, 0, R::kEdx, 19},
    {"nx", kExt | 1, 0, R::kEdx, 20}, {"mmxext", kExt | 1, 0, R::kEdx, 22},
    {"fxsr_opt", kExt | 1, 0, R::kEdx, 25}, {"pdpe1gb", kExt | 1, 0, R::kEdx, 26},
    {"rdtscp", kExt | 1, 0, R::kEdx, 27}, {"lm", kExt | 1, 0, R::kEdx, 29},
    {"3dnowext", kExt | 1, 0, R::kEdx, 30}, {"3dnow", kExt | 1, 0, R::kEdx, 31},
    // CPUID.80000007H:EDX
    {"invtsc", kExt | 7, 0, R::kEdx, 8},
    // CPUID.80000008H:EBX
    {"clzero", kExt | 8, 0, R::kEbx, 0}, {"irperf", kExt | 8, 0, R::kEbx, 1},
    {"xsaveerptr", kExt | 8, 0, R::kEbx, 2}, {"rdpru", kExt | 8, 0, R::kEbx, 4},
    {"wbnoinvd", kExt | 8, 0, R::kEbx, 9}, {"amd_ibpb", kExt | 8, 0, R::kEbx, 12},
    {"amd_ibrs", kExt | 8, 0, R::kEbx, 14}, {"amd_stibp", kExt | 8, 0, R::kEbx, 15},
    {"amd_ssbd", kExt | 8, 0, R::kEbx, 24}, {"virt_ssbd", kExt | 8, 0, R::kEbx, 25},
    {"amd_ssb_no", kExt | 8, 0, R::kEbx, 26},
};

// {feature, what it needs}: hiding the second hides the first (Linux,
// arch/x86/kernel/cpu/cpuid-deps.c, the part that concerns these flags).
constexpr std::array<std::pair<const char*, const char*>, 37> kDepends = {{
    {"xsaveopt", "xsave"}, {"xsavec", "xsave"}, {"xgetbv1", "xsave"}, {"xsaves", "xsave"},
    {"xfd", "xsave"}, {"avx", "xsave"}, {"pku", "xsave"}, {"mpx", "xsave"},
    {"amx_tile", "xsave"}, {"amx_bf16", "amx_tile"}, {"amx_int8", "amx_tile"},
    {"amx_fp16", "amx_tile"}, {"avx2", "avx"}, {"fma", "avx"}, {"f16c", "avx"},
    {"fma4", "avx"}, {"xop", "avx"}, {"vaes", "avx"}, {"vpclmulqdq", "avx"},
    {"avx_vnni", "avx"}, {"avx_ifma", "avx"}, {"avx512f", "avx"},
    {"avx512dq", "avx512f"}, {"avx512ifma", "avx512f"}, {"avx512cd", "avx512f"},
    {"avx512bw", "avx512f"}, {"avx512vl", "avx512f"}, {"avx512vbmi", "avx512f"},
    {"avx512_vbmi2", "avx512f"}, {"avx512_vnni", "avx512f"}, {"avx512_bitalg", "avx512f"},
    {"avx512_vpopcntdq", "avx512f"}, {"avx512_bf16", "avx512f"}, {"avx512_fp16", "avx512f"},
    {"ssse3", "pni"}, {"sse4_1", "ssse3"}, {"sse4_2", "sse4_1"},
}};

constexpr FlagWord kFlagWords[] = {
    {1, 0, R::kEcx},       {1, 0, R::kEdx},       {6, 0, R::kEax},
    {7, 0, R::kEbx},       {7, 0, R::kEcx},       {7, 0, R::kEdx},
    {7, 1, R::kEax},       {0xd, 1, R::kEax},     {kExt | 1, 0, R::kEcx},
    {kExt | 1, 0, R::kEdx}, {kExt | 7, 0, R::kEdx}, {kExt | 8, 0, R::kEbx},
    {kExt | 0x21, 0, R::kEax},
};
// clang-format on

const char* reg_name(CpuReg r) {
  static constexpr const char* kNames[] = {"eax", "ebx", "ecx", "edx"};
  return kNames[static_cast<int>(r)];
}

template <typename Table>
auto* find_in(Table& table, uint32_t function, uint32_t index) {
  for (auto& e : table) {
    if (e.function != function) continue;
    if (!(e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || e.index == index) return &e;
  }
  return static_cast<decltype(&table[0])>(nullptr);
}

}  // namespace

std::span<const CpuFeature> cpu_features() {
  return kFeatures;
}

const CpuFeature* find_cpu_feature(std::string_view name) {
  for (const CpuFeature& f : kFeatures) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

CpuidEntry* find_leaf(std::vector<CpuidEntry>& table, uint32_t function, uint32_t index) {
  return find_in(table, function, index);
}

const CpuidEntry* find_leaf(const std::vector<CpuidEntry>& table, uint32_t function,
                            uint32_t index) {
  return find_in(table, function, index);
}

uint32_t& reg_of(CpuidEntry& e, CpuReg r) {
  switch (r) {
    case CpuReg::kEax:
      return e.eax;
    case CpuReg::kEbx:
      return e.ebx;
    case CpuReg::kEcx:
      return e.ecx;
    case CpuReg::kEdx:
      break;
  }
  return e.edx;
}

uint32_t reg_of(const CpuidEntry& e, CpuReg r) {
  return reg_of(const_cast<CpuidEntry&>(e), r);
}

bool has_feature(const std::vector<CpuidEntry>& table, const CpuFeature& f) {
  const CpuidEntry* e = find_leaf(table, f.function, f.index);
  return e && (reg_of(*e, f.reg) >> f.bit & 1);
}

std::vector<std::string> clear_feature(std::vector<CpuidEntry>& table, const CpuFeature& f) {
  std::vector<std::string> cleared;
  if (CpuidEntry* e = find_leaf(table, f.function, f.index)) {
    uint32_t& reg = reg_of(*e, f.reg);
    if (reg >> f.bit & 1) cleared.emplace_back(f.name);
    reg &= ~(1u << f.bit);
  }
  if (std::string_view(f.name) == "xsave") {
    // CPUID.0DH describes XSAVE state components: without XSAVE it is empty.
    for (CpuidEntry& e : table) {
      if (e.function == 0xd) e.eax = e.ebx = e.ecx = e.edx = 0;
    }
  }
  for (const auto& [feature, needs] : kDepends) {
    if (std::string_view(needs) != f.name) continue;
    for (std::string& name : clear_feature(table, *find_cpu_feature(feature)))
      cleared.push_back(std::move(name));
  }
  return cleared;
}

std::string feature_bit_name(uint32_t function, uint32_t index, CpuReg reg, uint8_t bit) {
  for (const CpuFeature& f : kFeatures) {
    if (f.function == function && f.index == index && f.reg == reg && f.bit == bit) return f.name;
  }
  char b[48];
  std::snprintf(b, sizeof b, "cpuid.%x.%x.%s[%u]", function, index, reg_name(reg), bit);
  return b;
}

std::span<const FlagWord> flag_words() {
  return kFlagWords;
}

std::vector<std::string> set_flag_names(const std::vector<CpuidEntry>& table) {
  std::vector<std::string> out;
  for (const FlagWord& w : kFlagWords) {
    const CpuidEntry* e = find_leaf(table, w.function, w.index);
    uint32_t bits = e ? reg_of(*e, w.reg) : 0;
    for (uint8_t bit = 0; bit < 32; ++bit) {
      if (!(bits >> bit & 1)) continue;
      std::string name = feature_bit_name(w.function, w.index, w.reg, bit);
      if (name != "osxsave" && name != "ospke") out.push_back(std::move(name));
    }
  }
  return out;
}

void clear_flag_words(std::vector<CpuidEntry>& table) {
  for (const FlagWord& w : kFlagWords) {
    if (CpuidEntry* e = find_leaf(table, w.function, w.index)) reg_of(*e, w.reg) = 0;
  }
}

std::optional<uint8_t> physical_address_bits(const std::vector<CpuidEntry>& table) {
  const CpuidEntry* e = find_leaf(table, kExt | 8);
  if (!e) return std::nullopt;
  return static_cast<uint8_t>(e->eax & 0xff);
}

}  // namespace rrvm
