#include "replay/untrappable.h"

#include <capstone/capstone.h>

#include <cstring>

namespace rrvm {

namespace {

// 0F 31 rdtsc; 0F 01 F9 rdtscp; 0F C7 /6 rdrand and 0F C7 /7 rdseed with a
// register operand (ModRM mod = 11). Candidates are confirmed by decoding.
bool candidate(std::span<const uint8_t> c, size_t i) {
  if (i + 1 >= c.size() || c[i] != 0x0F) return false;
  if (c[i + 1] == 0x31) return true;
  if (i + 2 >= c.size()) return false;
  if (c[i + 1] == 0x01 && c[i + 2] == 0xF9) return true;
  return c[i + 1] == 0xC7 && (c[i + 2] & 0xF0) == 0xF0;
}

bool untrappable(const char* mnemonic) {
  for (const char* m : {"rdtsc", "rdtscp", "rdrand", "rdseed"}) {
    if (std::strcmp(mnemonic, m) == 0) return true;
  }
  return false;
}

}  // namespace

std::vector<UntrappableHit> find_untrappable(std::span<const uint8_t> code, uint64_t base) {
  std::vector<UntrappableHit> hits;
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return hits;
  for (size_t i = 0; i < code.size(); ++i) {
    if (!candidate(code, i)) continue;
    // A REX prefix (0x40-0x4F) may precede rdrand/rdseed with 64-bit operands.
    size_t start = (i > 0 && (code[i - 1] & 0xF0) == 0x40) ? i - 1 : i;
    cs_insn* insn = nullptr;
    size_t n = cs_disasm(handle, code.data() + start, code.size() - start, base + start, 1, &insn);
    if (n == 1 && untrappable(insn->mnemonic)) {
      std::string text = insn->mnemonic;
      if (insn->op_str[0]) text += std::string(" ") + insn->op_str;
      hits.push_back({base + start, text});
    }
    if (n) cs_free(insn, n);
  }
  cs_close(&handle);
  return hits;
}

}  // namespace rrvm
