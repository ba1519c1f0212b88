#include "replay/gdb_target_description.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "replay/gdb_packet.h"

namespace rrvm::gdb {
namespace {

// Little-endian bytes of a register, or nullopt when the target lacks it.
using RegisterBytes = std::optional<std::string>;

struct RegisterSpec {
  std::string name;
  int bits;
  std::string type;
  std::string group;  // "" for the feature's default
  std::function<RegisterBytes(const DebugRegisters&)> read;
};

struct Feature {
  std::string name;
  std::string types;  // <flags>/<vector>/<union> definitions the registers use
  std::vector<RegisterSpec> regs;
};

std::string le_bytes(uint64_t v, int bits) {
  std::string out;
  for (int i = 0; i < bits / 8; ++i) out += static_cast<char>(i < 8 ? v >> (8 * i) : 0);
  return out;
}

template <typename T>
RegisterSpec field(std::string name, int bits, std::string type, T DebugRegisters::*member,
                   std::string group = "") {
  return {std::move(name), bits, std::move(type), std::move(group),
          [member, bits](const DebugRegisters& r) -> RegisterBytes {
            return le_bytes(static_cast<uint64_t>(r.*member), bits);
          }};
}

// A register read from the optional x87/SSE block.
RegisterSpec fpu_reg(std::string name, int bits, std::string type, std::string group,
                     std::function<std::string(const FpuRegisters&)> read) {
  return {std::move(name), bits, std::move(type), std::move(group),
          [read](const DebugRegisters& r) -> RegisterBytes {
            if (!r.fpu) return std::nullopt;
            return read(*r.fpu);
          }};
}

RegisterSpec fpu_int(std::string name, std::function<uint64_t(const FpuRegisters&)> value) {
  return fpu_reg(std::move(name), 32, "int", "float",
                 [value](const FpuRegisters& f) { return le_bytes(value(f), 32); });
}

template <size_t N>
std::string raw(const std::array<uint8_t, N>& a) {
  return std::string(a.begin(), a.end());
}

constexpr const char* kEflagsType = R"(<flags id="i386_eflags" size="4">
<field name="CF" start="0" end="0"/><field name="" start="1" end="1"/>
<field name="PF" start="2" end="2"/><field name="AF" start="4" end="4"/>
<field name="ZF" start="6" end="6"/><field name="SF" start="7" end="7"/>
<field name="TF" start="8" end="8"/><field name="IF" start="9" end="9"/>
<field name="DF" start="10" end="10"/><field name="OF" start="11" end="11"/>
<field name="NT" start="14" end="14"/><field name="RF" start="16" end="16"/>
<field name="VM" start="17" end="17"/><field name="AC" start="18" end="18"/>
<field name="VIF" start="19" end="19"/><field name="VIP" start="20" end="20"/>
<field name="ID" start="21" end="21"/>
</flags>
)";

Feature core_feature() {
  Feature f{"org.gnu.gdb.i386.core", kEflagsType, {}};
  using R = DebugRegisters;
  // gdb's order (64bit-core.xml), which is not KVM's (rsp before rbp there).
  const std::pair<const char*, uint64_t R::*> gprs[] = {
      {"rax", &R::rax}, {"rbx", &R::rbx}, {"rcx", &R::rcx}, {"rdx", &R::rdx},
      {"rsi", &R::rsi}, {"rdi", &R::rdi}, {"rbp", &R::rbp}, {"rsp", &R::rsp},
      {"r8", &R::r8},   {"r9", &R::r9},   {"r10", &R::r10}, {"r11", &R::r11},
      {"r12", &R::r12}, {"r13", &R::r13}, {"r14", &R::r14}, {"r15", &R::r15}};
  for (auto [name, member] : gprs) {
    bool pointer = member == &R::rbp || member == &R::rsp;
    f.regs.push_back(field(name, 64, pointer ? "data_ptr" : "int64", member));
  }
  f.regs.push_back(field("rip", 64, "code_ptr", &R::rip));
  f.regs.push_back(field("eflags", 32, "i386_eflags", &R::rflags));
  const std::pair<const char*, uint16_t R::*> selectors[] = {{"cs", &R::cs}, {"ss", &R::ss},
                                                             {"ds", &R::ds}, {"es", &R::es},
                                                             {"fs", &R::fs}, {"gs", &R::gs}};
  for (auto [name, member] : selectors) f.regs.push_back(field(name, 32, "int32", member));
  for (size_t i = 0; i < 8; ++i)
    f.regs.push_back(fpu_reg("st" + std::to_string(i), 80, "i387_ext", "",
                             [i](const FpuRegisters& fpu) { return raw(fpu.st[i]); }));
  // FXSAVE64 keeps 64-bit instruction/operand pointers; gdb splits each into
  // a 32-bit offset and the bits above it as the "segment" (i387-tdep.c).
  f.regs.push_back(fpu_int("fctrl", [](const FpuRegisters& x) { return x.fcw; }));
  f.regs.push_back(fpu_int("fstat", [](const FpuRegisters& x) { return x.fsw; }));
  f.regs.push_back(fpu_int("ftag", [](const FpuRegisters& x) { return full_tag_word(x); }));
  f.regs.push_back(fpu_int("fiseg", [](const FpuRegisters& x) { return x.fip >> 32 & 0xffff; }));
  f.regs.push_back(fpu_int("fioff", [](const FpuRegisters& x) { return x.fip & 0xffffffff; }));
  f.regs.push_back(fpu_int("foseg", [](const FpuRegisters& x) { return x.fdp >> 32 & 0xffff; }));
  f.regs.push_back(fpu_int("fooff", [](const FpuRegisters& x) { return x.fdp & 0xffffffff; }));
  f.regs.push_back(fpu_int("fop", [](const FpuRegisters& x) { return x.fop & 0x7ff; }));
  return f;
}

constexpr const char* kSseTypes = R"(<vector id="v8bf16" type="bfloat16" count="8"/>
<vector id="v8h" type="ieee_half" count="8"/>
<vector id="v4f" type="ieee_single" count="4"/>
<vector id="v2d" type="ieee_double" count="2"/>
<vector id="v16i8" type="int8" count="16"/>
<vector id="v8i16" type="int16" count="8"/>
<vector id="v4i32" type="int32" count="4"/>
<vector id="v2i64" type="int64" count="2"/>
<union id="vec128">
<field name="v8_bfloat16" type="v8bf16"/><field name="v8_half" type="v8h"/>
<field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>
<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/>
<field name="v4_int32" type="v4i32"/><field name="v2_int64" type="v2i64"/>
<field name="uint128" type="uint128"/>
</union>
<flags id="i386_mxcsr" size="4">
<field name="IE" start="0" end="0"/><field name="DE" start="1" end="1"/>
<field name="ZE" start="2" end="2"/><field name="OE" start="3" end="3"/>
<field name="UE" start="4" end="4"/><field name="PE" start="5" end="5"/>
<field name="DAZ" start="6" end="6"/><field name="IM" start="7" end="7"/>
<field name="DM" start="8" end="8"/><field name="ZM" start="9" end="9"/>
<field name="OM" start="10" end="10"/><field name="UM" start="11" end="11"/>
<field name="PM" start="12" end="12"/><field name="FZ" start="15" end="15"/>
</flags>
)";

Feature sse_feature() {
  Feature f{"org.gnu.gdb.i386.sse", kSseTypes, {}};
  for (size_t i = 0; i < 16; ++i)
    f.regs.push_back(fpu_reg("xmm" + std::to_string(i), 128, "vec128", "",
                             [i](const FpuRegisters& fpu) { return raw(fpu.xmm[i]); }));
  f.regs.push_back(fpu_reg("mxcsr", 32, "i386_mxcsr", "vector",
                           [](const FpuRegisters& x) { return le_bytes(x.mxcsr, 32); }));
  return f;
}

Feature segments_feature() {
  return {"org.gnu.gdb.i386.segments",
          "",
          {field("fs_base", 64, "int", &DebugRegisters::fs_base),
           field("gs_base", 64, "int", &DebugRegisters::gs_base)}};
}

// Bit names from the SDM (vol. 3, 2.5 for CR0/CR4; 2.2.1 for EFER), so gdb
// prints e.g. cr0 as [ PE ET PG ].
constexpr const char* kControlTypes = R"(<flags id="rrvm_cr0" size="8">
<field name="PE" start="0" end="0"/><field name="MP" start="1" end="1"/>
<field name="EM" start="2" end="2"/><field name="TS" start="3" end="3"/>
<field name="ET" start="4" end="4"/><field name="NE" start="5" end="5"/>
<field name="WP" start="16" end="16"/><field name="AM" start="18" end="18"/>
<field name="NW" start="29" end="29"/><field name="CD" start="30" end="30"/>
<field name="PG" start="31" end="31"/>
</flags>
<flags id="rrvm_cr4" size="8">
<field name="VME" start="0" end="0"/><field name="PVI" start="1" end="1"/>
<field name="TSD" start="2" end="2"/><field name="DE" start="3" end="3"/>
<field name="PSE" start="4" end="4"/><field name="PAE" start="5" end="5"/>
<field name="MCE" start="6" end="6"/><field name="PGE" start="7" end="7"/>
<field name="PCE" start="8" end="8"/><field name="OSFXSR" start="9" end="9"/>
<field name="OSXMMEXCPT" start="10" end="10"/><field name="UMIP" start="11" end="11"/>
<field name="LA57" start="12" end="12"/><field name="VMXE" start="13" end="13"/>
<field name="SMXE" start="14" end="14"/><field name="FSGSBASE" start="16" end="16"/>
<field name="PCIDE" start="17" end="17"/><field name="OSXSAVE" start="18" end="18"/>
<field name="SMEP" start="20" end="20"/><field name="SMAP" start="21" end="21"/>
<field name="PKE" start="22" end="22"/>
</flags>
<flags id="rrvm_efer" size="8">
<field name="SCE" start="0" end="0"/><field name="LME" start="8" end="8"/>
<field name="LMA" start="10" end="10"/><field name="NXE" start="11" end="11"/>
<field name="SVME" start="12" end="12"/><field name="FFXSR" start="14" end="14"/>
</flags>
)";

Feature control_feature() {
  using R = DebugRegisters;
  return {"org.rrvm.x86.control",
          kControlTypes,
          {field("cr0", 64, "rrvm_cr0", &R::cr0), field("cr2", 64, "data_ptr", &R::cr2),
           field("cr3", 64, "int64", &R::cr3), field("cr4", 64, "rrvm_cr4", &R::cr4),
           field("cr8", 64, "int64", &R::cr8), field("efer", 64, "rrvm_efer", &R::efer)}};
}

const std::vector<Feature>& features() {
  static const std::vector<Feature> all = {core_feature(), sse_feature(), segments_feature(),
                                           control_feature()};
  return all;
}

const std::vector<const RegisterSpec*>& registers() {
  static const std::vector<const RegisterSpec*> regs = [] {
    std::vector<const RegisterSpec*> v;
    for (const Feature& f : features())
      for (const RegisterSpec& r : f.regs) v.push_back(&r);
    return v;
  }();
  return regs;
}

std::string build_xml() {
  std::string xml =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target>\n"
      "<architecture>i386:x86-64</architecture>\n<compatible>i386</compatible>\n";
  for (const Feature& f : features()) {
    xml += "<feature name=\"" + f.name + "\">\n" + f.types;
    for (const RegisterSpec& r : f.regs) {
      xml += "<reg name=\"" + r.name + "\" bitsize=\"" + std::to_string(r.bits) + "\" type=\"" +
             r.type + "\"";
      if (!r.group.empty()) xml += " group=\"" + r.group + "\"";
      xml += "/>\n";
    }
    xml += "</feature>\n";
  }
  return xml + "</target>\n";
}

std::string encode(const DebugRegisters& regs, const RegisterSpec& spec) {
  RegisterBytes bytes = spec.read(regs);
  if (!bytes) return std::string(static_cast<size_t>(spec.bits / 4), 'x');
  return to_hex(*bytes);
}

// x87 register classes for the tag word (SDM vol. 1, table 8-3).
uint16_t tag_of(const std::array<uint8_t, 10>& v) {
  unsigned exponent = (v[9] & 0x7fu) << 8 | v[8];
  bool integer_bit = v[7] & 0x80;
  bool mantissa_zero = std::all_of(v.begin(), v.begin() + 8, [](uint8_t b) { return b == 0; });
  if (exponent == 0x7fff) return 2;                 // infinity, NaN
  if (exponent == 0) return mantissa_zero ? 1 : 2;  // zero, or denormal
  return integer_bit ? 0 : 2;                       // valid, or unnormal
}

}  // namespace

uint16_t full_tag_word(const FpuRegisters& fpu) {
  unsigned top = fpu.fsw >> 11 & 7;
  uint16_t tags = 0;
  for (unsigned phys = 0; phys < 8; ++phys) {
    uint16_t tag = 3;  // empty
    if (fpu.ftw & (1u << phys)) tag = tag_of(fpu.st[(phys - top) & 7]);
    tags |= static_cast<uint16_t>(tag << (2 * phys));
  }
  return tags;
}

const std::string& target_xml() {
  static const std::string xml = build_xml();
  return xml;
}

size_t register_count() {
  return registers().size();
}

std::string encode_registers(const DebugRegisters& regs) {
  std::string out;
  for (const RegisterSpec* r : registers()) out += encode(regs, *r);
  return out;
}

std::optional<std::string> encode_register(const DebugRegisters& regs, size_t regnum) {
  if (regnum >= registers().size()) return std::nullopt;
  return encode(regs, *registers()[regnum]);
}

}  // namespace rrvm::gdb
