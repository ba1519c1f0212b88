// Digests of machine state for comparing two executions: xxh3-64, streamed.
#pragma once

#include <linux/kvm.h>
#include <xxhash.h>

#include <cstdint>
#include <span>
#include <type_traits>

namespace rrvm {

class StateDigest {
 public:
  StateDigest() : st_(XXH3_createState()) { XXH3_64bits_reset(st_); }
  ~StateDigest() { XXH3_freeState(st_); }
  StateDigest(const StateDigest&) = delete;
  StateDigest& operator=(const StateDigest&) = delete;

  StateDigest& bytes(std::span<const uint8_t> b) {
    XXH3_64bits_update(st_, b.data(), b.size());
    return *this;
  }
  // A value whose bytes are its value: no padding, no bools or floats
  // with several representations (structs go through state_fields.h).
  template <class T>
  StateDigest& value(const T& v) {
    static_assert(std::has_unique_object_representations_v<T>, "bytes are not the value");
    XXH3_64bits_update(st_, &v, sizeof v);
    return *this;
  }
  // A KVM uapi struct as KVM_GET_* filled it: the kernel copies out every
  // byte, and the uapi spells out its padding as fields, so its bytes are
  // canonical (compare kvm_ioctls.h's size checks).
  template <class T>
  StateDigest& uapi(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    XXH3_64bits_update(st_, &v, sizeof v);
    return *this;
  }
  uint64_t digest() const { return XXH3_64bits_digest(st_); }

 private:
  XXH3_state_t* st_;
};

}  // namespace rrvm
