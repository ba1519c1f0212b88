#include "replay/untrappable.h"

#include <capstone/capstone.h>

#include <algorithm>
#include <cstring>

#include "devices/hex.h"
#include "firmware/elf.h"
#include "firmware/linux_boot.h"
#include "firmware/load_error.h"

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

namespace {

std::vector<UntrappableHit> in_elf(std::span<const uint8_t> kernel) {
  std::vector<UntrappableHit> hits;
  for (const ElfSegment& seg : parse_elf(kernel).loads) {
    if (!seg.executable) continue;
    auto found = find_untrappable(kernel.subspan(seg.offset, seg.filesz), seg.vaddr);
    hits.insert(hits.end(), found.begin(), found.end());
  }
  return hits;
}

// A bzImage's decompressor: the protected-mode code, at its 1 MiB load
// address, around the compressed kernel it carries (payload_offset and
// payload_length, boot protocol 2.08+), whose bytes are data here. Linux's
// decompressor reads the TSC and RDRAND to pick its KASLR offsets, so two
// boots place the kernel differently from the start.
std::vector<UntrappableHit> in_bzimage_decompressor(std::span<const uint8_t> kernel) {
  LinuxSetupHeader h = parse_bzimage_header(kernel);
  constexpr uint64_t kLoadAddress = 0x100000;
  std::span<const uint8_t> code = kernel.subspan(h.setup_bytes);
  uint64_t payload = std::min<uint64_t>(h.payload_offset, code.size());
  uint64_t after = std::min<uint64_t>(payload + h.payload_length, code.size());
  if (!h.payload_length) payload = after = code.size();  // before 2.08: all of it is code
  auto hits = find_untrappable(code.first(payload), kLoadAddress);
  auto tail = find_untrappable(code.subspan(after), kLoadAddress + after);
  hits.insert(hits.end(), tail.begin(), tail.end());
  return hits;
}

}  // namespace

std::string untrappable_in_kernel_hint(std::span<const uint8_t> kernel) {
  bool bzimage = is_bzimage(kernel);
  if (!bzimage && !is_elf(kernel)) return "";
  std::vector<UntrappableHit> hits;
  try {
    hits = bzimage ? in_bzimage_decompressor(kernel) : in_elf(kernel);
  } catch (const ImageError&) {
    return "";  // the kernel ran, so this does not happen; a hint is not worth an error
  }
  if (hits.empty()) return "";
  constexpr size_t kListed = 8;
  std::string out =
      "\n  hint: the guest's kernel contains instructions KVM cannot trap, whose results are not "
      "in the trace and differ between runs (" +
      std::to_string(hits.size()) +
      (bzimage ? " in its bzImage decompressor, which picks the KASLR offsets with them; the "
                 "compressed kernel is not searched):"
               : " in its code):");
  for (size_t i = 0; i < hits.size() && i < kListed; ++i)
    out += "\n    " + hex(hits[i].address) + ": " + hits[i].text;
  if (hits.size() > kListed) out += "\n    ...";
  return out;
}

}  // namespace rrvm
