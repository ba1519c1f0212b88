// Blob and image identity (trace.capnp, ImageRef.hash): lower-case hex of
// xxh3-128 (32 digits, what rrvm writes) or xxh3-64 (16 digits, which the
// format also allows). A hash of any other shape is damage, never "unchecked".
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace rrvm::trace {

// xxh3-128 of `bytes` as 32 lower-case hex digits.
std::string content_hash(std::span<const uint8_t> bytes);

// 32 or 16 lower-case hex digits.
bool is_content_hash(std::string_view hash);

// The hash of bytes fed in pieces (a blob's parts), in the form of
// `expected` (32 or 16 digits, which must pass is_content_hash).
class ContentHasher {
 public:
  explicit ContentHasher(std::string_view expected);
  ~ContentHasher();
  ContentHasher(const ContentHasher&) = delete;
  ContentHasher& operator=(const ContentHasher&) = delete;

  void update(std::span<const uint8_t> bytes);
  std::string digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
  bool wide_ = true;  // xxh3-128
};

}  // namespace rrvm::trace
