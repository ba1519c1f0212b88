#include "firmware/hexdump.h"

#include <cstdio>

namespace rrvm {

namespace {

constexpr size_t kPerLine = 16;

std::string dump_line(std::span<const uint8_t> line, uint64_t addr) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08llx ", static_cast<unsigned long long>(addr));
  std::string out = buf;
  for (size_t i = 0; i < kPerLine; ++i) {
    if (i == 8) out += ' ';
    if (i < line.size()) {
      std::snprintf(buf, sizeof buf, " %02x", line[i]);
      out += buf;
    } else {
      out += "   ";
    }
  }
  out += "  |";
  for (uint8_t b : line) out += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
  out += "|\n";
  return out;
}

}  // namespace

std::string hexdump(std::span<const uint8_t> bytes, uint64_t base) {
  std::string out;
  for (size_t off = 0; off < bytes.size(); off += kPerLine) {
    size_t n = bytes.size() - off < kPerLine ? bytes.size() - off : kPerLine;
    out += dump_line(bytes.subspan(off, n), base + off);
  }
  return out;
}

}  // namespace rrvm
