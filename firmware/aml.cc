#include "firmware/aml.h"

#include <stdexcept>
#include <string>

#include "firmware/table_bytes.h"

namespace rrvm::aml {

namespace {

// 20.2.4: the largest value a 4-byte PkgLength holds (4 + 8 + 8 + 8 bits).
constexpr size_t kMaxPkgLength = (size_t{1} << 28) - 1;

bool lead_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || c == '_';
}
bool name_char(char c) {
  return lead_name_char(c) || (c >= '0' && c <= '9');
}

[[noreturn]] void bad_name(std::string_view path, const char* why) {
  throw std::invalid_argument("AML name '" + std::string(path) + "': " + why);
}

std::vector<std::string_view> split_segments(std::string_view path) {
  std::vector<std::string_view> segs;
  while (!path.empty()) {
    size_t dot = path.find('.');
    segs.push_back(path.substr(0, dot));
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
    if (path.empty()) segs.push_back(path);  // trailing '.': an empty segment
  }
  return segs;
}

void append(Bytes& out, const Bytes& more) {
  out.insert(out.end(), more.begin(), more.end());
}

// Op [ExtOp] PkgLength <contents>: the shape of every package-encoded term.
Bytes with_pkg_length(std::initializer_list<uint8_t> ops, const Bytes& contents) {
  Bytes out(ops);
  append(out, pkg_length(contents.size()));
  append(out, contents);
  return out;
}

}  // namespace

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) append(out, p);
  return out;
}

Bytes pkg_length(size_t content_len) {
  // Try 1, 2, 3, 4 bytes of encoding: the total includes the encoding.
  for (size_t extra = 0; extra <= 3; ++extra) {
    size_t total = content_len + 1 + extra;
    size_t limit = extra == 0 ? 63 : (size_t{1} << (4 + 8 * extra)) - 1;
    if (total > limit) continue;
    if (extra == 0) return {static_cast<uint8_t>(total)};
    Bytes out{static_cast<uint8_t>((extra << 6) | (total & 0x0F))};
    for (size_t i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
    return out;
  }
  throw std::length_error("AML package of " + std::to_string(content_len) +
                          " bytes exceeds the PkgLength maximum " + std::to_string(kMaxPkgLength));
}

Bytes name_seg(std::string_view seg) {
  if (seg.empty() || seg.size() > 4) bad_name(seg, "a NameSeg has 1-4 characters");
  if (!lead_name_char(seg[0])) bad_name(seg, "a NameSeg starts with A-Z or '_'");
  Bytes out;
  for (char c : seg) {
    if (!name_char(c)) bad_name(seg, "a NameSeg holds only A-Z, 0-9 and '_'");
    out.push_back(static_cast<uint8_t>(c));
  }
  out.resize(4, '_');
  return out;
}

Bytes name_string(std::string_view path) {
  Bytes out;
  std::string_view rest = path;
  if (!rest.empty() && rest[0] == '\\') {
    out.push_back(kRootChar);
    rest.remove_prefix(1);
  } else {
    while (!rest.empty() && rest[0] == '^') {
      out.push_back(kParentPrefixChar);
      rest.remove_prefix(1);
    }
  }
  std::vector<std::string_view> segs = split_segments(rest);
  if (segs.empty()) {
    if (out.empty() || out[0] != kRootChar) bad_name(path, "empty name");
    out.push_back(0x00);  // NullName: the root itself
    return out;
  }
  if (segs.size() > 255) bad_name(path, "more than 255 segments");
  if (segs.size() == 2) out.push_back(kDualNamePrefix);
  if (segs.size() > 2) out.insert(out.end(), {kMultiNamePrefix, static_cast<uint8_t>(segs.size())});
  for (std::string_view seg : segs) append(out, name_seg(seg));
  return out;
}

Bytes integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  ByteWriter w;
  if (value <= 0xFF) {
    w.u8(kBytePrefix).u8(value);
  } else if (value <= 0xFFFF) {
    w.u8(kWordPrefix).u16(value);
  } else if (value <= 0xFFFFFFFF) {
    w.u8(kDWordPrefix).u32(value);
  } else {
    w.u8(kQWordPrefix).u64(value);
  }
  return w.take();
}

Bytes dword(uint32_t value) {
  return ByteWriter().u8(kDWordPrefix).u32(value).take();
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    auto b = static_cast<uint8_t>(c);
    if (b == 0 || b > 0x7F) throw std::invalid_argument("AML string holds a non-ASCII or NUL byte");
    out.push_back(b);
  }
  out.push_back(0x00);
  return out;
}

uint32_t eisa_id_value(std::string_view id) {
  auto letter = [&](char c) -> uint32_t {
    if (c < 'A' || c > 'Z')
      throw std::invalid_argument("EISAID '" + std::string(id) + "': letters");
    return static_cast<uint32_t>(c - 'A' + 1);  // 'A' = 1, 5 bits
  };
  auto digit = [&](char c) -> uint32_t {
    if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
    if (c >= 'A' && c <= 'F') return static_cast<uint32_t>(c - 'A' + 10);
    throw std::invalid_argument("EISAID '" + std::string(id) + "': hex digits");
  };
  if (id.size() != 7) throw std::invalid_argument("EISAID '" + std::string(id) + "': 7 characters");
  uint32_t be = letter(id[0]) << 26 | letter(id[1]) << 21 | letter(id[2]) << 16;
  for (int i = 3; i < 7; ++i) be |= digit(id[i]) << (4 * (6 - i));
  // The packed value is big-endian in memory; as an AML integer it is the
  // byte-swapped number.
  return (be >> 24) | ((be >> 8) & 0xFF00) | ((be << 8) & 0xFF0000) | (be << 24);
}

Bytes eisa_id(std::string_view id) {
  return dword(eisa_id_value(id));
}

Bytes arg(int n) {
  if (n < 0 || n > 6) throw std::invalid_argument("AML Arg" + std::to_string(n) + ": Arg0-Arg6");
  return {static_cast<uint8_t>(kArg0Op + n)};
}

Bytes local(int n) {
  if (n < 0 || n > 7) throw std::invalid_argument("AML Local" + std::to_string(n) + ": Local0-7");
  return {static_cast<uint8_t>(kLocal0Op + n)};
}

Bytes name(std::string_view path, const Bytes& object) {
  return cat({{kNameOp}, name_string(path), object});
}

Bytes scope(std::string_view path, const Bytes& terms) {
  return with_pkg_length({kScopeOp}, cat({name_string(path), terms}));
}

Bytes device(std::string_view path, const Bytes& terms) {
  return with_pkg_length({kExtOpPrefix, kDeviceOp}, cat({name_string(path), terms}));
}

Bytes method(std::string_view path, int arg_count, const Bytes& terms, bool serialized) {
  if (arg_count < 0 || arg_count > 7) throw std::invalid_argument("AML method: 0-7 arguments");
  auto flags = static_cast<uint8_t>(arg_count | (serialized ? 0x08 : 0));
  return with_pkg_length({kMethodOp}, cat({name_string(path), {flags}, terms}));
}

Bytes store(const Bytes& source, const Bytes& target) {
  return cat({{kStoreOp}, source, target});
}

Bytes return_value(const Bytes& value) {
  return cat({{kReturnOp}, value});
}

Bytes package(const std::vector<Bytes>& elements) {
  if (elements.size() > 255) throw std::length_error("AML Package: more than 255 elements");
  Bytes contents{static_cast<uint8_t>(elements.size())};
  for (const Bytes& e : elements) append(contents, e);
  return with_pkg_length({kPackageOp}, contents);
}

Bytes buffer(const Bytes& data) {
  return with_pkg_length({kBufferOp}, cat({integer(data.size()), data}));
}

namespace resource {

namespace {
// 6.4.3.5 address space descriptors: resource type and general flags.
constexpr uint8_t kTypeMemory = 0, kTypeIo = 1, kTypeBusNumber = 2;
// General flags: bit 3 _MAF (max fixed), bit 2 _MIF (min fixed), bit 1 _DEC
// = 0 (positive decode), bit 0 = 0 (producer: a bridge passing it down).
constexpr uint8_t kFixedProducer = 0x0C;
// Large resource items (6.4.3): tag byte, then a 16-bit length of the rest.
constexpr uint8_t kDWordAddressTag = 0x87, kWordAddressTag = 0x88;

Bytes word_address(uint8_t type, uint8_t type_flags, uint16_t min, uint16_t max) {
  ByteWriter w;
  w.u8(kWordAddressTag).u16(13).u8(type).u8(kFixedProducer).u8(type_flags);
  w.u16(0).u16(min).u16(max).u16(0).u16(max - min + 1);  // granularity, range, offset, length
  return w.take();
}
}  // namespace

Bytes word_bus_number(uint16_t min, uint16_t max) {
  return word_address(kTypeBusNumber, 0, min, max);
}

// Type-specific flags for I/O (6.4.3.5.3 / Table 6.48): _RNG = 3, entire range.
Bytes word_io(uint16_t min, uint16_t max) {
  return word_address(kTypeIo, 0x03, min, max);
}

Bytes io(uint16_t min, uint16_t max, uint8_t align, uint8_t length) {
  // Small item 0x47 = type 8 (I/O port), length 7; information bit 0 =
  // 16-bit decode.
  return ByteWriter().u8(0x47).u8(0x01).u16(min).u16(max).u8(align).u8(length).take();
}

Bytes dword_memory(uint32_t min, uint32_t max) {
  // Type-specific flags for memory: bit 0 _RW (read-write), bits 2:1 _MEM
  // = 1 (cacheable).
  ByteWriter w;
  w.u8(kDWordAddressTag).u16(23).u8(kTypeMemory).u8(kFixedProducer).u8(0x03);
  w.u32(0).u32(min).u32(max).u32(0).u32(max - min + 1);
  return w.take();
}

Bytes end_tag() {
  return {0x79, 0x00};
}

}  // namespace resource

Bytes resource_template(std::initializer_list<Bytes> descriptors) {
  Bytes data;
  for (const Bytes& d : descriptors) append(data, d);
  append(data, resource::end_tag());
  return buffer(data);
}

}  // namespace rrvm::aml
