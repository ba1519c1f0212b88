#include "trace/text_escape.h"

#include <cstdint>
#include <cstdio>

namespace rrvm::trace {

namespace {

bool is_continuation(uint8_t b) {
  return (b & 0xc0) == 0x80;
}

// Length of the well-formed UTF-8 sequence at s[i] (Unicode 15, Table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
size_t utf8_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  uint8_t b = at(0);
  size_t n = b < 0x80                 ? 1
             : b >= 0xc2 && b <= 0xdf ? 2
             : b >= 0xe0 && b <= 0xef ? 3
             : b >= 0xf0 && b <= 0xf4 ? 4
                                      : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if (!is_continuation(at(k))) return 0;
  if (n >= 3) {
    uint8_t lo = 0x80, hi = 0xbf;  // the second byte's range, narrowed for some lead bytes
    if (b == 0xe0) lo = 0xa0;
    if (b == 0xed) hi = 0x9f;  // U+D800..U+DFFF are surrogates
    if (b == 0xf0) lo = 0x90;
    if (b == 0xf4) hi = 0x8f;
    if (at(1) < lo || at(1) > hi) return 0;
  }
  return n;
}

void append_u(std::string& out, unsigned code) {
  char b[8];
  std::snprintf(b, sizeof b, "\\u%04x", code);
  out += b;
}

}  // namespace

std::string escape_text(std::string_view s, Escape mode) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    size_t n = utf8_length(s, i);
    if (n == 0) {
      append_u(out, b);  // a byte that is not UTF-8: shown as its Latin-1 code point
      ++i;
    } else if (n == 2 && b == 0xc2 && static_cast<uint8_t>(s[i + 1]) < 0xa0) {
      append_u(out, static_cast<uint8_t>(s[i + 1]));  // C1 control U+0080..U+009F (CSI, ...)
      i += 2;
    } else if (n > 1) {
      out.append(s.substr(i, n));
      i += n;
    } else if (b == '\n' && mode == Escape::kLines) {
      out += '\n';
      ++i;
    } else if (b < 0x20 || b == 0x7f) {
      append_u(out, b);
      ++i;
    } else {
      if ((b == '"' || b == '\\') && mode == Escape::kJson) out += '\\';
      out += static_cast<char>(b);
      ++i;
    }
  }
  return out;
}

}  // namespace rrvm::trace
