// Canonical hex dump ("hexdump -C" layout) of guest-visible bytes, for
// diagnostics, reports and test failure messages.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace rrvm {

// One line per 16 bytes: the address (`base` + offset, 8 hex digits or more),
// the bytes in two groups of eight, and the printable ASCII between bars;
// '.' for other bytes. A short last line is padded so the ASCII column lines
// up. Every line ends with '\n'; empty input gives "".
//   000f0000  5f 4d 50 5f 10 00 0f 00  01 04 a5 00 00 00 00 00  |_MP_............|
std::string hexdump(std::span<const uint8_t> bytes, uint64_t base);

}  // namespace rrvm
