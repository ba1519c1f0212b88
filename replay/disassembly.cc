#include "replay/disassembly.h"

#include <capstone/capstone.h>

namespace rrvm {

namespace {

std::vector<DisassembledInsn> decode(csh h, std::span<const uint8_t> code, uint64_t base,
                                     uint64_t from, size_t count = SIZE_MAX) {
  std::vector<DisassembledInsn> out;
  if (from < base || from - base >= code.size()) return out;
  const uint8_t* p = code.data() + (from - base);
  size_t left = code.size() - (from - base);
  uint64_t addr = from;
  cs_insn* insn = cs_malloc(h);
  while (left && out.size() < count && cs_disasm_iter(h, &p, &left, &addr, insn)) {
    std::string text = insn->mnemonic;
    if (insn->op_str[0]) text += std::string(" ") + insn->op_str;
    out.push_back({insn->address, text, false, static_cast<uint8_t>(insn->size)});
  }
  cs_free(insn, 1);
  return out;
}

cs_mode capstone_mode(CodeBits bits) {
  switch (bits) {
    case CodeBits::k16:
      return CS_MODE_16;
    case CodeBits::k32:
      return CS_MODE_32;
    case CodeBits::k64:
      break;
  }
  return CS_MODE_64;
}

}  // namespace

std::vector<DisassembledInsn> disassemble(std::span<const uint8_t> code, uint64_t base,
                                          size_t count, CodeBits bits, AsmSyntax syntax) {
  csh h;
  if (cs_open(CS_ARCH_X86, capstone_mode(bits), &h) != CS_ERR_OK) return {};
  if (syntax == AsmSyntax::kAtt) cs_option(h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
  auto out = decode(h, code, base, base, count);
  cs_close(&h);
  return out;
}

std::vector<DisassembledInsn> disassemble_around(std::span<const uint8_t> code, uint64_t base,
                                                 uint64_t mark, int before, int after) {
  csh h;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK) return {};
  auto all = decode(h, code, base, base);
  size_t at = all.size();
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i].addr == mark) at = i;
  if (at == all.size()) {
    all = decode(h, code, base, mark);
    at = 0;
  }
  cs_close(&h);
  if (all.empty() || all[at].addr != mark) return {};
  all[at].marked = true;
  size_t first = at > size_t(before) ? at - before : 0;
  size_t last = std::min(all.size(), at + after + 1);
  return {all.begin() + first, all.begin() + last};
}

}  // namespace rrvm
