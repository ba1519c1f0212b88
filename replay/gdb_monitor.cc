#include "replay/gdb_monitor.h"

#include <sstream>
#include <vector>

#include "devices/hex.h"
#include "replay/disassembly.h"

namespace rrvm::gdb {
namespace {

constexpr size_t kMaxInsnBytes = 15;  // SDM vol. 2, 2.3.11
constexpr uint64_t kDefaultCount = 8;
constexpr uint64_t kMaxCount = 256;  // bounds the reply and the memory read

// A number as gdb users write them: 0x-prefixed hex, or decimal.
std::optional<uint64_t> number(const std::string& w) {
  try {
    size_t used = 0;
    uint64_t v = std::stoull(w, &used, 0);
    if (used == w.size()) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

CodeBits code_bits(CpuMode mode) {
  return mode == CpuMode::kLong64 ? CodeBits::k64 : CodeBits::k32;
}

std::vector<DisassembledInsn> decode_at(DebugTarget& target, uint64_t addr, uint64_t count,
                                        AsmSyntax syntax) {
  std::vector<uint8_t> code(count * kMaxInsnBytes);
  code.resize(target.read_memory(addr, code));
  return disassemble(code, addr, count, code_bits(target.registers().mode), syntax);
}

// disas [ADDR [COUNT]]
std::string disas(DebugTarget& target, const std::vector<std::string>& args) {
  DebugRegisters regs = target.registers();
  std::optional<uint64_t> addr = args.size() > 1 ? number(args[1]) : regs.rip;
  std::optional<uint64_t> count = args.size() > 2 ? number(args[2]) : kDefaultCount;
  if (!addr || !count || args.size() > 3 || *count == 0 || *count > kMaxCount)
    return "usage: monitor disas [ADDR [COUNT]]  (COUNT 1 to " + std::to_string(kMaxCount) + ")\n";
  auto insns = decode_at(target, *addr, *count, AsmSyntax::kAtt);
  if (insns.empty()) return "cannot read or decode code at " + hex(*addr) + "\n";
  std::string out;
  for (const DisassembledInsn& i : insns)
    out += (i.addr == regs.rip ? "=> " : "   ") + hex(i.addr) + ":\t" + i.text + "\n";
  return out;
}

// decode ADDR [att|intel]: "SIZE TEXT" for tools/rrvm-gdb.py.
std::string decode(DebugTarget& target, const std::vector<std::string>& args) {
  std::optional<uint64_t> addr = args.size() > 1 ? number(args[1]) : std::nullopt;
  std::string flavor = args.size() > 2 ? args[2] : "att";
  if (!addr || args.size() > 3 || (flavor != "att" && flavor != "intel"))
    return "usage: monitor decode ADDR [att|intel]\n";
  auto insns = decode_at(target, *addr, 1, flavor == "att" ? AsmSyntax::kAtt : AsmSyntax::kIntel);
  if (insns.empty()) return "error: cannot read or decode code at " + hex(*addr) + "\n";
  return std::to_string(insns[0].size) + " " + insns[0].text + "\n";
}

}  // namespace

std::vector<std::string> monitor_words(std::string_view command) {
  std::istringstream in{std::string(command)};
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::optional<std::string> builtin_monitor(DebugTarget& target, std::string_view command) {
  std::vector<std::string> args = monitor_words(command);
  if (args.empty()) return std::nullopt;
  if (args[0] == "mode" && args.size() == 1)
    return target.registers().mode == CpuMode::kLong64 ? "64-bit long mode\n"
                                                       : "32-bit protected mode\n";
  if (args[0] == "disas") return disas(target, args);
  if (args[0] == "decode") return decode(target, args);
  return std::nullopt;
}

std::string_view builtin_monitor_help() {
  return "mode                     the CPU mode: 32-bit protected or 64-bit long mode\n"
         "disas [ADDR [COUNT]]     COUNT (8) instructions at ADDR (RIP), decoded in the CPU's\n"
         "                         mode (gdb's x/i decodes 32-bit code as 64-bit)\n"
         "decode ADDR [att|intel]  one instruction as \"SIZE TEXT\" (used by tools/rrvm-gdb.py)\n";
}

}  // namespace rrvm::gdb
