// The GDB remote serial protocol's wire format (gdb manual, "Overview" and
// "Binary Data" in appendix E): `$body#cc` packets with a modulo-256
// checksum, `+`/`-` acknowledgements, 0x03 for an interrupt, `}`-escaping of
// binary data and `*` run-length encoding. Pure functions and a byte-stream
// decoder; no I/O.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace rrvm::gdb {

// Largest packet body accepted or sent (advertised as PacketSize).
inline constexpr size_t kMaxPacketSize = 16384;

uint8_t checksum(std::string_view body);

// "$body#cc". `body` is sent as is (escape binary payloads first); runs of
// four or more equal characters are run-length encoded.
std::string frame_packet(std::string_view body);

// Run-length encoding as gdb reads it: "X*n" stands for X followed by
// n - 29 more X; counts that would be '#' or '$' are never produced.
std::string rle_encode(std::string_view body);
// Expands "X*n"; nullopt for a '*' with nothing before it or no count.
std::optional<std::string> rle_decode(std::string_view body);

// Binary payloads (qXfer replies): '#', '$', '}' and '*' become '}' followed
// by the byte XOR 0x20.
std::string escape_binary(std::string_view data);
// nullopt for a trailing lone '}'.
std::optional<std::string> unescape_binary(std::string_view data);

std::string to_hex(std::span<const uint8_t> bytes);
std::string to_hex(std::string_view text);
// nullopt for an odd length or a non-hex digit.
std::optional<std::string> from_hex(std::string_view hex);
// A whole string of hex digits (at most 16) as a number.
std::optional<uint64_t> parse_hex(std::string_view s);

// Splits a byte stream from gdb into what it carries. Feed it bytes as they
// arrive and take items out in order. A packet whose body exceeds
// kMaxPacketSize is reported as kBadPacket (the sender is told to resend,
// which gdb does with a smaller request), as is one with a wrong checksum.
class PacketDecoder {
 public:
  struct Item {
    enum class Kind : uint8_t { kPacket, kBadPacket, kAck, kNak, kInterrupt };
    Kind kind = Kind::kPacket;
    std::string body;  // kPacket: the body with run-length encoding expanded
  };

  void feed(std::string_view bytes);
  std::optional<Item> next();
  bool empty() const { return items_.empty(); }
  // Whether an interrupt is queued; removes it (and only it) if so.
  bool take_interrupt();

 private:
  enum class State : uint8_t { kIdle, kBody, kCheck1, kCheck2 };
  void finish_packet();

  State state_ = State::kIdle;
  std::string body_;
  bool overflow_ = false;
  char check_hi_ = 0;
  char check_lo_ = 0;
  std::deque<Item> items_;
};

}  // namespace rrvm::gdb
