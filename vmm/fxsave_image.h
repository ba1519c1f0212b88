// The x87 part of an FXSAVE image (Intel SDM vol. 1, 10.5.1, table 10-2:
// FCW at 0, FSW at 2, abridged FTW at 4, FOP at 6, FIP at 8, FDP at 16, the
// stack registers ST0-ST7 at 32 + 16 * i), read and written in place. The
// XSAVE region's first 512 bytes have the same layout (vol. 1, 13.4.1).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "vmm/vcpu.h"

namespace rrvm {

inline Vcpu::X87State x87_from_fxsave(std::span<const uint8_t> image) {
  Vcpu::X87State x;
  std::memcpy(&x.fcw, image.data() + 0, 2);
  std::memcpy(&x.fsw, image.data() + 2, 2);
  x.ftw = image[4];
  std::memcpy(&x.fop, image.data() + 6, 2);
  std::memcpy(&x.fip, image.data() + 8, 8);
  std::memcpy(&x.fdp, image.data() + 16, 8);
  for (int i = 0; i < 8; ++i) std::memcpy(x.st[i].data(), image.data() + 32 + 16 * i, 10);
  return x;
}

inline void x87_to_fxsave(const Vcpu::X87State& x, std::span<uint8_t> image) {
  std::memcpy(image.data() + 0, &x.fcw, 2);
  std::memcpy(image.data() + 2, &x.fsw, 2);
  image[4] = x.ftw;
  std::memcpy(image.data() + 6, &x.fop, 2);
  std::memcpy(image.data() + 8, &x.fip, 8);
  std::memcpy(image.data() + 16, &x.fdp, 8);
  for (int i = 0; i < 8; ++i) std::memcpy(image.data() + 32 + 16 * i, x.st[i].data(), 10);
}

}  // namespace rrvm
