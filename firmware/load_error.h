// A guest image that cannot be loaded, with a message naming what is wrong.
#pragma once

#include <stdexcept>
#include <string>

namespace rrvm {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rrvm
