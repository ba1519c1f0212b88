#include "trace/content_hash.h"

#include <xxhash.h>

#include <cstdio>

namespace rrvm::trace {

namespace {

std::string hex128(XXH128_hash_t h) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

std::string hex64(XXH64_hash_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string content_hash(std::span<const uint8_t> bytes) {
  return hex128(XXH3_128bits(bytes.data(), bytes.size()));
}

bool is_content_hash(std::string_view hash) {
  if (hash.size() != 32 && hash.size() != 16) return false;
  for (char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

struct ContentHasher::State {
  XXH3_state_t* s = XXH3_createState();
  ~State() { XXH3_freeState(s); }
};

ContentHasher::ContentHasher(std::string_view expected)
    : state_(std::make_unique<State>()), wide_(expected.size() != 16) {
  if (wide_)
    XXH3_128bits_reset(state_->s);
  else
    XXH3_64bits_reset(state_->s);
}

ContentHasher::~ContentHasher() = default;

void ContentHasher::update(std::span<const uint8_t> bytes) {
  if (wide_)
    XXH3_128bits_update(state_->s, bytes.data(), bytes.size());
  else
    XXH3_64bits_update(state_->s, bytes.data(), bytes.size());
}

std::string ContentHasher::digest() const {
  return wide_ ? hex128(XXH3_128bits_digest(state_->s)) : hex64(XXH3_64bits_digest(state_->s));
}

}  // namespace rrvm::trace
