#include "vmm/sse_instructions.h"

#include <cstring>

namespace rrvm {

size_t decode_mem_operand(std::span<const uint8_t> b, uint8_t rex, MemOperand* m) {
  if (b.empty()) return 0;
  uint8_t modrm = b[0], mod = modrm >> 6, rm = modrm & 7;
  size_t at = 1;
  if (rm == 4) {  // SIB follows
    if (b.size() < 2) return 0;
    uint8_t sib = b[1], base = sib & 7, index = uint8_t((rex & 2) << 2 | (sib >> 3 & 7));
    at = 2;
    m->scale = uint8_t(1u << (sib >> 6));
    if (index != 4) m->index = index;  // index 100b without REX.X: none
    if (base == 5 && mod == 0) {
      mod = 2;  // disp32 and no base
    } else {
      m->base = uint8_t((rex & 1) << 3 | base);
    }
  } else if (rm == 5 && mod == 0) {
    m->rip_relative = true;
    mod = 2;
  } else {
    m->base = uint8_t((rex & 1) << 3 | rm);
  }
  size_t disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
  if (b.size() < at + disp) return 0;
  if (disp == 1) m->disp = int8_t(b[at]);
  if (disp == 4)
    m->disp = int32_t(uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 |
                      uint32_t(b[at + 3]) << 24);
  return at + disp;
}

uint64_t operand_address(const MemOperand& m, uint8_t length, const kvm_regs& r,
                         const kvm_sregs& s) {
  uint64_t a = uint64_t(int64_t(m.disp));
  if (m.rip_relative) a += r.rip + length;
  if (m.base != kNoReg) a += *gpr(r, m.base);
  if (m.index != kNoReg) a += *gpr(r, m.index) * m.scale;
  if (m.seg == 0x64) a += s.fs.base;
  if (m.seg == 0x65) a += s.gs.base;
  return a;
}

namespace {

// ---- Decoding (SDM vol. 2, appendix A: opcode map, 66-prefixed 0F page) ----

struct Form {
  SseOp op;
  uint8_t mem_bytes;  // 0: register operand only
  bool aligned;
  bool imm;
};

bool is_binary(uint8_t b) {
  switch (b) {
    case 0x60:
    case 0x61:
    case 0x62:
    case 0x6c:  // punpckl bw wd dq qdq
    case 0x68:
    case 0x69:
    case 0x6a:
    case 0x6d:  // punpckh bw wd dq qdq
    case 0x64:
    case 0x65:
    case 0x66:  // pcmpgt b w d
    case 0x74:
    case 0x75:
    case 0x76:  // pcmpeq b w d
    case 0xd4:
    case 0xfc:
    case 0xfd:
    case 0xfe:  // padd q b w d
    case 0xf8:
    case 0xf9:
    case 0xfa:
    case 0xfb:  // psub b w d q
    case 0xdb:
    case 0xdf:
    case 0xeb:
    case 0xef:  // pand pandn por pxor
      return true;
    default:
      return false;
  }
}

std::optional<Form> form_of(uint8_t simd, uint8_t b, bool wide) {
  if (simd == 0xf3) {
    if (b == 0x7e) return Form{SseOp::kMovqLoad, 8, false, false};
    if (b == 0x6f) return Form{SseOp::kLoad, 16, false, false};
    if (b == 0x7f) return Form{SseOp::kStore, 16, false, false};
    return std::nullopt;
  }
  if (simd != 0x66) return std::nullopt;
  uint8_t gpr_bytes = wide ? 8 : 4;
  switch (b) {
    case 0x6e:
      return Form{SseOp::kMovdTo, gpr_bytes, false, false};
    case 0x7e:
      return Form{SseOp::kMovdFrom, gpr_bytes, false, false};
    case 0xd6:
      return Form{SseOp::kMovqStore, 8, false, false};
    case 0x6f:
      return Form{SseOp::kLoad, 16, true, false};
    case 0x7f:
      return Form{SseOp::kStore, 16, true, false};
    case 0xd7:
      return Form{SseOp::kPmovmskb, 0, false, false};
    case 0x70:
      return Form{SseOp::kPshufd, 16, true, true};
    case 0x71:
    case 0x72:
    case 0x73:
      return Form{SseOp::kShiftImm, 0, false, true};
    default:
      if (is_binary(b)) return Form{SseOp::kBinary, 16, true, false};
      return std::nullopt;
  }
}

// The shift groups (opcodes 71-73, ModRM.reg): psrl 2, psra 4, psll 6;
// 73 has psrldq 3 and pslldq 7 and no psraq.
bool valid_shift(uint8_t b, uint8_t ext) {
  if (b == 0x73) return ext == 2 || ext == 3 || ext == 6 || ext == 7;
  return ext == 2 || ext == 4 || ext == 6;
}

// ---- Semantics ----

template <class T>
using Lanes = std::array<T, 16 / sizeof(T)>;

template <class T>
Lanes<T> lanes(const Xmm& x) {
  Lanes<T> l;
  std::memcpy(l.data(), x.data(), 16);
  return l;
}

template <class T>
Xmm pack(const Lanes<T>& l) {
  Xmm x;
  std::memcpy(x.data(), l.data(), 16);
  return x;
}

template <class T, class F>
Xmm lanewise(const Xmm& a, const Xmm& b, F f) {
  Lanes<T> la = lanes<T>(a), lb = lanes<T>(b);
  for (size_t i = 0; i < la.size(); ++i) la[i] = T(f(la[i], lb[i]));
  return pack<T>(la);
}

// PUNPCKL*/PUNPCKH*: interleave the low (high) halves, destination first.
template <class T>
Xmm unpack(const Xmm& a, const Xmm& b, bool high) {
  Lanes<T> la = lanes<T>(a), lb = lanes<T>(b), out;
  size_t half = out.size() / 2, from = high ? half : 0;
  for (size_t i = 0; i < half; ++i) {
    out[2 * i] = la[from + i];
    out[2 * i + 1] = lb[from + i];
  }
  return pack<T>(out);
}

template <class T>
Xmm compare(const Xmm& a, const Xmm& b, bool greater) {
  return lanewise<T>(a, b,
                     [greater](T x, T y) { return (greater ? x > y : x == y) ? T(-1) : T(0); });
}

Xmm pshufb(const Xmm& a, const Xmm& b) {
  Xmm out;
  for (size_t i = 0; i < 16; ++i) out[i] = (b[i] & 0x80) ? 0 : a[b[i] & 15];
  return out;
}

Xmm binary(uint8_t op, bool ssse3, const Xmm& a, const Xmm& b) {
  auto add = [](auto x, auto y) { return x + y; };
  auto sub = [](auto x, auto y) { return x - y; };
  if (ssse3) return pshufb(a, b);
  switch (op) {
    case 0x60:
      return unpack<uint8_t>(a, b, false);
    case 0x61:
      return unpack<uint16_t>(a, b, false);
    case 0x62:
      return unpack<uint32_t>(a, b, false);
    case 0x6c:
      return unpack<uint64_t>(a, b, false);
    case 0x68:
      return unpack<uint8_t>(a, b, true);
    case 0x69:
      return unpack<uint16_t>(a, b, true);
    case 0x6a:
      return unpack<uint32_t>(a, b, true);
    case 0x6d:
      return unpack<uint64_t>(a, b, true);
    case 0x64:
      return compare<int8_t>(a, b, true);
    case 0x65:
      return compare<int16_t>(a, b, true);
    case 0x66:
      return compare<int32_t>(a, b, true);
    case 0x74:
      return compare<uint8_t>(a, b, false);
    case 0x75:
      return compare<uint16_t>(a, b, false);
    case 0x76:
      return compare<uint32_t>(a, b, false);
    case 0xfc:
      return lanewise<uint8_t>(a, b, add);
    case 0xfd:
      return lanewise<uint16_t>(a, b, add);
    case 0xfe:
      return lanewise<uint32_t>(a, b, add);
    case 0xd4:
      return lanewise<uint64_t>(a, b, add);
    case 0xf8:
      return lanewise<uint8_t>(a, b, sub);
    case 0xf9:
      return lanewise<uint16_t>(a, b, sub);
    case 0xfa:
      return lanewise<uint32_t>(a, b, sub);
    case 0xfb:
      return lanewise<uint64_t>(a, b, sub);
    case 0xdb:
      return lanewise<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x & y; });
    case 0xdf:
      return lanewise<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return ~x & y; });
    case 0xeb:
      return lanewise<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x | y; });
    default:
      return lanewise<uint64_t>(a, b, [](uint64_t x, uint64_t y) { return x ^ y; });
  }
}

// Shifts by an immediate: a count past the lane width gives 0, or the sign
// in every bit for the arithmetic shift.
template <class T>
Xmm shift(const Xmm& a, uint8_t ext, uint8_t count) {
  using S = std::make_signed_t<T>;
  constexpr unsigned kBits = sizeof(T) * 8;
  Lanes<T> l = lanes<T>(a);
  for (T& v : l) {
    if (ext == 4) {
      v = T(S(v) >> (count >= kBits ? kBits - 1 : count));
    } else if (count >= kBits) {
      v = 0;
    } else {
      v = ext == 2 ? T(v >> count) : T(v << count);
    }
  }
  return pack<T>(l);
}

// PSRLDQ / PSLLDQ: the whole register by bytes.
Xmm byte_shift(const Xmm& a, bool left, uint8_t count) {
  Xmm out{};
  for (int i = 0; i < 16; ++i) {
    int from = left ? i - count : i + count;
    if (from >= 0 && from < 16) out[size_t(i)] = a[size_t(from)];
  }
  return out;
}

Xmm shift_imm(uint8_t op, uint8_t ext, uint8_t count, const Xmm& a) {
  if (op == 0x71) return shift<uint16_t>(a, ext, count);
  if (op == 0x72) return shift<uint32_t>(a, ext, count);
  if (ext == 3 || ext == 7) return byte_shift(a, ext == 7, count);
  return shift<uint64_t>(a, ext, count);
}

Xmm pshufd(const Xmm& a, uint8_t imm) {
  Lanes<uint32_t> in = lanes<uint32_t>(a), out;
  for (size_t i = 0; i < 4; ++i) out[i] = in[(imm >> (2 * i)) & 3];
  return pack<uint32_t>(out);
}

uint64_t pmovmskb(const Xmm& a) {
  uint64_t mask = 0;
  for (size_t i = 0; i < 16; ++i) mask |= uint64_t(a[i] >> 7) << i;
  return mask;
}

Xmm low_bytes(uint64_t v, size_t n) {
  Xmm x{};
  std::memcpy(x.data(), &v, n);
  return x;
}

uint64_t low_value(const Xmm& x, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, x.data(), n);
  return v;
}

// The source operand of a load-type instruction: the r/m register's bytes
// or `mem_bytes` read from memory, zero-extended to 16 bytes.
bool source(const SseInsn& in, uint64_t at, SseMachine& m, Xmm* out) {
  if (in.rm_is_reg) {
    *out = in.op == SseOp::kMovdTo ? low_bytes(*gpr(m.regs, in.rm), in.wide ? 8 : 4) : m.xmm[in.rm];
    return true;
  }
  Xmm x{};
  if (!m.read(at, {x.data(), in.mem_bytes})) return false;
  *out = x;
  return true;
}

// A store-type instruction: `n` bytes of `value` to the r/m operand.
bool store(const SseInsn& in, uint64_t at, const Xmm& value, size_t n, SseMachine& m) {
  if (!in.rm_is_reg) return m.write(at, {value.data(), n});
  if (in.op == SseOp::kMovdFrom) {
    *gpr(m.regs, in.rm) = low_value(value, n);  // a 32-bit write zeroes bits 63:32
  } else {
    m.xmm[in.rm] = in.op == SseOp::kMovqStore ? low_bytes(low_value(value, 8), 8) : value;
  }
  return true;
}

}  // namespace

std::optional<size_t> decode_sse(std::span<const uint8_t> op, uint8_t simd, uint8_t rex,
                                 SseInsn* out, std::string* why_not) {
  SseInsn in;
  size_t at = 2;
  if (op.size() >= 3 && op[0] == 0x0f && op[1] == 0x38 && op[2] == 0x00 && simd == 0x66) {
    in.ssse3 = true;
    at = 3;
  }
  if (op.size() < at + 1 || op[0] != 0x0f) {
    *why_not = "not an SSE instruction";
    return std::nullopt;
  }
  in.opcode = in.ssse3 ? 0x00 : op[1];
  in.wide = rex & 8;
  std::optional<Form> f =
      in.ssse3 ? Form{SseOp::kBinary, 16, true, false} : form_of(simd, in.opcode, in.wide);
  if (!f) {
    *why_not = "not one of the SSE instructions rrvm completes";
    return std::nullopt;
  }
  in.op = f->op;
  in.mem_bytes = f->mem_bytes;
  in.aligned = f->aligned;
  uint8_t modrm = op[at];
  in.reg = uint8_t((rex & 4) << 1 | (modrm >> 3 & 7));
  in.ext = modrm >> 3 & 7;
  in.rm_is_reg = modrm >> 6 == 3;
  size_t n = 1;
  if (in.rm_is_reg) {
    in.rm = uint8_t((rex & 1) << 3 | (modrm & 7));
  } else if (f->mem_bytes == 0) {
    *why_not = "an SSE instruction with a memory operand that must be a register (#UD)";
    return std::nullopt;
  } else {
    n = decode_mem_operand(op.subspan(at), rex, &in.mem);
  }
  if (in.op == SseOp::kShiftImm && !valid_shift(in.opcode, in.ext)) {
    *why_not = "an undefined SSE shift group encoding";
    return std::nullopt;
  }
  size_t length = at + n + (f->imm ? 1 : 0);
  if (n == 0 || op.size() < length) {
    *why_not = "SSE instruction bytes missing";
    return std::nullopt;
  }
  if (f->imm) in.imm = op[length - 1];
  *out = in;
  return length;
}

SseOutcome execute_sse(const SseInsn& in, uint64_t at, SseMachine& m) {
  if (!in.rm_is_reg && in.aligned && at % 16 != 0) return SseOutcome::kMisaligned;
  Xmm src{};
  switch (in.op) {
    case SseOp::kMovdFrom:
      return store(in, at, m.xmm[in.reg], in.wide ? 8 : 4, m) ? SseOutcome::kDone
                                                              : SseOutcome::kUnmapped;
    case SseOp::kMovqStore:
      return store(in, at, m.xmm[in.reg], 8, m) ? SseOutcome::kDone : SseOutcome::kUnmapped;
    case SseOp::kStore:
      return store(in, at, m.xmm[in.reg], 16, m) ? SseOutcome::kDone : SseOutcome::kUnmapped;
    case SseOp::kPmovmskb:
      *gpr(m.regs, in.reg) = pmovmskb(m.xmm[in.rm]);
      return SseOutcome::kDone;
    case SseOp::kShiftImm:
      m.xmm[in.rm] = shift_imm(in.opcode, in.ext, in.imm, m.xmm[in.rm]);
      return SseOutcome::kDone;
    default:
      break;
  }
  if (!source(in, at, m, &src)) return SseOutcome::kUnmapped;
  switch (in.op) {
    case SseOp::kMovdTo:
    case SseOp::kLoad:
      m.xmm[in.reg] = src;
      break;
    case SseOp::kMovqLoad:
      m.xmm[in.reg] = low_bytes(low_value(src, 8), 8);
      break;
    case SseOp::kPshufd:
      m.xmm[in.reg] = pshufd(src, in.imm);
      break;
    default:
      m.xmm[in.reg] = binary(in.opcode, in.ssse3, m.xmm[in.reg], src);
      break;
  }
  return SseOutcome::kDone;
}

}  // namespace rrvm
