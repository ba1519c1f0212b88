// A guest image that cannot be loaded, with a message naming what is wrong
// (the field, its value and what was expected). Loaders are pure and never see
// file names, so callers that know the file add it with with_file():
//   "kernel.elf: Multiboot header checksum is 0x1234, expected 0xe4524ffe ..."
#pragma once

#include <stdexcept>
#include <string>

namespace rrvm {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;

  // The same error prefixed with the image's file name.
  ImageError with_file(const std::string& file) const { return ImageError(file + ": " + what()); }
};

}  // namespace rrvm
