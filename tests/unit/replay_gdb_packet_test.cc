#include "replay/gdb_packet.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace rrvm::gdb {
namespace {

using Kind = PacketDecoder::Item::Kind;

TEST(GdbPacket, ChecksumIsTheByteSumModulo256) {
  EXPECT_EQ(checksum(""), 0);
  EXPECT_EQ(checksum("OK"), 0x9a);  // 0x4f + 0x4b
  EXPECT_EQ(frame_packet("OK"), "$OK#9a");
  EXPECT_EQ(frame_packet(""), "$#00");
  EXPECT_EQ(checksum(std::string(3, '\xff')), 0xfd);
}

TEST(GdbPacket, RunsOfFourOrMoreAreRunLengthEncoded) {
  EXPECT_EQ(rle_encode("000"), "000") << "'*' and a count would not be shorter";
  EXPECT_EQ(rle_encode("0000"), "0* ") << "three more: ' ' is 3 + 29";
  EXPECT_EQ(rle_encode("ab00000c"), "ab0*!c");
  // Seven equal characters would need '#' (6 more) or '$' (7 more) as the
  // count; those end or restart a packet, so a shorter count is used.
  EXPECT_EQ(rle_encode(std::string(7, 'x')), "x*\"x");
  EXPECT_EQ(rle_encode(std::string(8, 'x')), "x*\"xx");
  EXPECT_EQ(frame_packet("0000"), "$0* #7a");
}

TEST(GdbPacket, RunLengthEncodingRoundTripsAndNeverEmitsFramingCharacters) {
  for (size_t run = 1; run < 300; ++run) {
    std::string body = "a" + std::string(run, '0') + "b" + std::string(run % 9, 'x');
    std::string enc = rle_encode(body);
    EXPECT_EQ(enc.find_first_of("#$"), std::string::npos) << run;
    EXPECT_LE(enc.size(), body.size());
    EXPECT_EQ(rle_decode(enc), body) << run;
  }
  EXPECT_EQ(rle_decode("*!"), std::nullopt) << "nothing to repeat";
  EXPECT_EQ(rle_decode("a*"), std::nullopt) << "no count";
}

TEST(GdbPacket, BinaryEscapingCoversTheFourSpecialCharacters) {
  EXPECT_EQ(escape_binary("#$}*a"),
            "}\x03}\x04}]}\x0a"
            "a");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string esc = escape_binary(all);
  EXPECT_EQ(esc.size(), all.size() + 4);
  EXPECT_EQ(unescape_binary(esc), all);
  EXPECT_EQ(unescape_binary("ab}"), std::nullopt) << "a lone escape at the end";
}

TEST(GdbPacket, HexHelpers) {
  EXPECT_EQ(to_hex(std::string_view("OK\n")), "4f4b0a");
  EXPECT_EQ(from_hex("4f4B0a"), "OK\n");
  EXPECT_EQ(from_hex("4f4"), std::nullopt);
  EXPECT_EQ(from_hex("zz"), std::nullopt);
  EXPECT_EQ(parse_hex("100039"), 0x100039u);
  EXPECT_EQ(parse_hex("ffffffffffffffff"), ~0ull);
  EXPECT_EQ(parse_hex("1ffffffffffffffff"), std::nullopt) << "more than 64 bits";
  EXPECT_EQ(parse_hex(""), std::nullopt);
  EXPECT_EQ(parse_hex("-1"), std::nullopt);
}

std::vector<PacketDecoder::Item> decode_all(std::initializer_list<std::string_view> chunks) {
  PacketDecoder d;
  for (auto c : chunks) d.feed(c);
  std::vector<PacketDecoder::Item> items;
  while (auto i = d.next()) items.push_back(*i);
  return items;
}

TEST(GdbPacketDecoder, SplitsAcksPacketsAndInterrupts) {
  auto items = decode_all({"+$g#67", "-\x03noise$m10", "0,4#", "5", "e"});
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].kind, Kind::kAck);
  EXPECT_EQ(items[1].kind, Kind::kPacket);
  EXPECT_EQ(items[1].body, "g");
  EXPECT_EQ(items[2].kind, Kind::kNak);
  EXPECT_EQ(items[3].kind, Kind::kInterrupt);
  EXPECT_EQ(items[4].kind, Kind::kPacket) << "a packet split across reads";
  EXPECT_EQ(items[4].body, "m100,4");
}

TEST(GdbPacketDecoder, RejectsBadChecksumsAndOversizedPackets) {
  auto items = decode_all({"$g#68$g#zz"});
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].kind, Kind::kBadPacket);
  EXPECT_EQ(items[1].kind, Kind::kBadPacket);
  // Too long as sent, with a correct checksum; and too long once its
  // run-length encoding is expanded.
  std::string big(kMaxPacketSize + 1, 'a');
  char sum[3];
  std::snprintf(sum, sizeof sum, "%02x", checksum(big));
  items = decode_all({"$", big, "#", sum, frame_packet(big), "$g#67"});
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].kind, Kind::kBadPacket);
  EXPECT_EQ(items[1].kind, Kind::kBadPacket);
  EXPECT_EQ(items[2].body, "g") << "the decoder recovers after an oversized packet";
  EXPECT_LT(frame_packet(big).size(), 1000u);
}

TEST(GdbPacketDecoder, ExpandsRunLengthEncodingAndRestartsOnALostHash) {
  auto items = decode_all({frame_packet("X" + std::string(40, '0'))});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].body, "X" + std::string(40, '0'));
  items = decode_all({"$m10$g#67"});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].body, "g");
}

TEST(GdbPacketDecoder, TakeInterruptLeavesOtherItemsInOrder) {
  PacketDecoder d;
  d.feed("$s#73\x03$c#63");
  EXPECT_TRUE(d.take_interrupt());
  EXPECT_FALSE(d.take_interrupt());
  EXPECT_EQ(d.next()->body, "s");
  EXPECT_EQ(d.next()->body, "c");
  EXPECT_FALSE(d.next());
}

}  // namespace
}  // namespace rrvm::gdb
