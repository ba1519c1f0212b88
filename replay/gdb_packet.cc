#include "replay/gdb_packet.h"

#include <algorithm>

namespace rrvm::gdb {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
// A repeat count is sent as the character count + 29 (so 3 more → ' ').
constexpr int kRleBias = 29;
constexpr size_t kRleMaxRepeat = 126 - kRleBias;  // stay printable, below DEL

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool needs_escape(char c) {
  return c == '#' || c == '$' || c == '}' || c == '*';
}

}  // namespace

uint8_t checksum(std::string_view body) {
  uint8_t sum = 0;
  for (char c : body) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  return sum;
}

std::string frame_packet(std::string_view body) {
  std::string encoded = rle_encode(body);
  uint8_t sum = checksum(encoded);
  std::string out;
  out.reserve(encoded.size() + 4);
  out += '$';
  out += encoded;
  out += '#';
  out += kHexDigits[sum >> 4];
  out += kHexDigits[sum & 0xf];
  return out;
}

std::string rle_encode(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size();) {
    size_t repeat = 0;  // equal characters after body[i]
    while (i + 1 + repeat < body.size() && body[i + 1 + repeat] == body[i] &&
           repeat < kRleMaxRepeat)
      ++repeat;
    out += body[i];
    // Two characters ("*n") only pay off for three or more repeats; '#' and
    // '$' as counts would end or restart the packet.
    size_t n = repeat;
    while (n >= 3 && (n + kRleBias == '#' || n + kRleBias == '$')) --n;
    if (n >= 3) {
      out += '*';
      out += static_cast<char>(n + kRleBias);
    } else {
      n = 0;
    }
    i += 1 + n;
  }
  return out;
}

std::optional<std::string> rle_decode(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '*') {
      out += body[i];
      continue;
    }
    if (out.empty() || i + 1 >= body.size()) return std::nullopt;
    int n = static_cast<uint8_t>(body[++i]) - kRleBias;
    if (n < 0) return std::nullopt;
    out.append(static_cast<size_t>(n), out.back());
  }
  return out;
}

std::string escape_binary(std::string_view data) {
  std::string out;
  out.reserve(data.size());
  for (char c : data) {
    if (needs_escape(c)) {
      out += '}';
      out += static_cast<char>(c ^ 0x20);
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescape_binary(std::string_view data) {
  std::string out;
  out.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != '}') {
      out += data[i];
      continue;
    }
    if (++i >= data.size()) return std::nullopt;
    out += static_cast<char>(data[i] ^ 0x20);
  }
  return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0xf];
  }
  return out;
}

std::string to_hex(std::string_view text) {
  return to_hex(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::optional<uint64_t> parse_hex(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d = hex_value(c);
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

void PacketDecoder::feed(std::string_view bytes) {
  for (char c : bytes) {
    switch (state_) {
      case State::kIdle:
        // Anything else between packets is line noise and is skipped.
        if (c == '$') {
          body_.clear();
          overflow_ = false;
          state_ = State::kBody;
        } else if (c == '+') {
          items_.push_back({Item::Kind::kAck, {}});
        } else if (c == '-') {
          items_.push_back({Item::Kind::kNak, {}});
        } else if (c == '\x03') {
          items_.push_back({Item::Kind::kInterrupt, {}});
        }
        break;
      case State::kBody:
        if (c == '#') {
          state_ = State::kCheck1;
        } else if (c == '$') {  // a lost '#': start over with the new packet
          body_.clear();
          overflow_ = false;
        } else if (body_.size() < kMaxPacketSize) {
          body_ += c;
        } else {
          overflow_ = true;
        }
        break;
      case State::kCheck1:
        check_hi_ = c;
        state_ = State::kCheck2;
        break;
      case State::kCheck2:
        check_lo_ = c;
        finish_packet();
        state_ = State::kIdle;
        break;
    }
  }
}

void PacketDecoder::finish_packet() {
  int hi = hex_value(check_hi_), lo = hex_value(check_lo_);
  bool sum_ok = hi >= 0 && lo >= 0 && checksum(body_) == (hi << 4 | lo);
  std::optional<std::string> body = rle_decode(body_);
  if (!sum_ok || overflow_ || !body || body->size() > kMaxPacketSize) {
    items_.push_back({Item::Kind::kBadPacket, {}});
    return;
  }
  items_.push_back({Item::Kind::kPacket, std::move(*body)});
}

std::optional<PacketDecoder::Item> PacketDecoder::next() {
  if (items_.empty()) return std::nullopt;
  Item item = std::move(items_.front());
  items_.pop_front();
  return item;
}

bool PacketDecoder::take_interrupt() {
  auto it = std::find_if(items_.begin(), items_.end(),
                         [](const Item& i) { return i.kind == Item::Kind::kInterrupt; });
  if (it == items_.end()) return false;
  items_.erase(it);
  return true;
}

}  // namespace rrvm::gdb
