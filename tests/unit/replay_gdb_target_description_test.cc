#include "replay/gdb_target_description.h"

#include <gtest/gtest.h>

#include <regex>
#include <vector>

namespace rrvm::gdb {
namespace {

// Register names in target.xml, in order.
std::vector<std::string> xml_register_names() {
  std::vector<std::string> names;
  const std::string& xml = target_xml();
  std::regex reg(R"re(<reg name="([a-z0-9_]+)" bitsize="(\d+)")re");
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), reg); it != std::sregex_iterator();
       ++it)
    names.push_back((*it)[1]);
  return names;
}

size_t index_of(const std::string& name) {
  auto names = xml_register_names();
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

// The hex of register `name` inside a 'g' reply, found from the XML's sizes.
std::string slice(const std::string& g, const std::string& name) {
  const std::string& xml = target_xml();
  std::regex reg(R"re(<reg name="([a-z0-9_]+)" bitsize="(\d+)")re");
  size_t at = 0;
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), reg); it != std::sregex_iterator();
       ++it) {
    size_t len = std::stoul((*it)[2]) / 4;
    if ((*it)[1] == name) return g.substr(at, len);
    at += len;
  }
  return "?";
}

TEST(GdbTargetDescription, UsesGdbsStandardFeaturesAndACustomOneForControlRegisters) {
  const std::string& xml = target_xml();
  EXPECT_NE(xml.find("<architecture>i386:x86-64</architecture>"), std::string::npos);
  EXPECT_NE(xml.find("<compatible>i386</compatible>"), std::string::npos)
      << "gdb with an ELF32 Multiboot image loaded rejects the description otherwise";
  size_t core = xml.find("\"org.gnu.gdb.i386.core\""), sse = xml.find("\"org.gnu.gdb.i386.sse\"");
  size_t seg = xml.find("\"org.gnu.gdb.i386.segments\""),
         ctl = xml.find("\"org.rrvm.x86.control\"");
  EXPECT_TRUE(core < sse && sse < seg && seg < ctl && ctl != std::string::npos);
  EXPECT_EQ(xml.find("xi:include"), std::string::npos) << "served as one document";
  EXPECT_EQ(xml.find_first_of("#$}*"), std::string::npos) << "no characters that need escaping";
}

TEST(GdbTargetDescription, RegisterNumbersFollowGdbsAmd64Layout) {
  auto names = xml_register_names();
  ASSERT_EQ(names.size(), register_count());
  EXPECT_EQ(register_count(), 65u);
  // gdb's numbering in 64bit-core.xml (rbp before rsp, unlike KVM's struct)
  // and 64bit-sse.xml (xmm0 is regnum 40).
  EXPECT_EQ(index_of("rax"), 0u);
  EXPECT_EQ(index_of("rbp"), 6u);
  EXPECT_EQ(index_of("rsp"), 7u);
  EXPECT_EQ(index_of("rip"), 16u);
  EXPECT_EQ(index_of("eflags"), 17u);
  EXPECT_EQ(index_of("gs"), 23u);
  EXPECT_EQ(index_of("st0"), 24u);
  EXPECT_EQ(index_of("fop"), 39u);
  EXPECT_EQ(index_of("xmm0"), 40u);
  EXPECT_EQ(index_of("mxcsr"), 56u);
  EXPECT_EQ(index_of("fs_base"), 57u);
  EXPECT_EQ(index_of("cr0"), 59u);
  EXPECT_EQ(index_of("efer"), 64u);
}

DebugRegisters sample() {
  DebugRegisters r;
  r.rax = 0x1122334455667788;
  r.rbp = 0xbb;
  r.rsp = 0x55;
  r.rip = 0xffffffff81000000;
  r.rflags = 0x246;
  r.cs = 0x10;
  r.gs = 0x28;
  r.fs_base = 0xabc;
  r.cr0 = 0x80050033;
  r.efer = 0xd01;
  return r;
}

TEST(GdbTargetDescription, GPacketIsLittleEndianHexInRegisterOrder) {
  std::string g = encode_registers(sample());
  EXPECT_EQ(g.size(), 1200u) << "600 bytes of registers";
  EXPECT_EQ(g.substr(0, 16), "8877665544332211");
  EXPECT_EQ(slice(g, "rbp"), "bb00000000000000");
  EXPECT_EQ(slice(g, "rsp"), "5500000000000000");
  EXPECT_EQ(slice(g, "rip"), "00000081ffffffff");
  EXPECT_EQ(slice(g, "eflags"), "46020000");
  EXPECT_EQ(slice(g, "cs"), "10000000") << "selectors are 32-bit in gdb's layout";
  EXPECT_EQ(slice(g, "gs"), "28000000");
  EXPECT_EQ(slice(g, "fs_base"), "bc0a000000000000");
  EXPECT_EQ(slice(g, "cr0"),
            "33000580"
            "00000000");
  EXPECT_EQ(slice(g, "efer"), "010d000000000000");
}

TEST(GdbTargetDescription, FpuRegistersAreUnavailableWithoutFpuState) {
  std::string g = encode_registers(sample());
  EXPECT_EQ(slice(g, "st0"), std::string(20, 'x'));
  EXPECT_EQ(slice(g, "xmm15"), std::string(32, 'x'));
  EXPECT_EQ(slice(g, "mxcsr"), std::string(8, 'x'));
  EXPECT_EQ(g.find('x'), 2u * (16 * 8 + 8 + 4 + 6 * 4)) << "from st0 on, after rax..gs";

  DebugRegisters r = sample();
  r.fpu = FpuRegisters{};
  r.fpu->xmm[15][0] = 0x5a;
  r.fpu->fip = 0x0000123487654321;
  g = encode_registers(r);
  EXPECT_EQ(g.find('x'), std::string::npos);
  EXPECT_EQ(slice(g, "fctrl"), "7f030000");
  EXPECT_EQ(slice(g, "mxcsr"), "801f0000");
  EXPECT_EQ(slice(g, "xmm15"), "5a" + std::string(30, '0'));
  EXPECT_EQ(slice(g, "fioff"), "21436587");
  EXPECT_EQ(slice(g, "fiseg"), "34120000");
  EXPECT_EQ(slice(g, "ftag"), "ffff0000") << "all empty";
}

TEST(GdbTargetDescription, PPacketMatchesTheGPacket) {
  DebugRegisters r = sample();
  std::string g = encode_registers(r), joined;
  for (size_t i = 0; i < register_count(); ++i) joined += *encode_register(r, i);
  EXPECT_EQ(joined, g);
  EXPECT_EQ(encode_register(r, register_count()), std::nullopt);
}

TEST(GdbTargetDescription, FullTagWordFromTheAbridgedOne) {
  FpuRegisters f;
  EXPECT_EQ(full_tag_word(f), 0xffff) << "abridged 0: all empty";
  // TOP = 6: ST(0) is physical register 6, ST(1) physical 7.
  f.fsw = 6 << 11;
  f.ftw = 0xc0;
  f.st[0] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f};  // 1.0: valid (00)
  f.st[1] = {};                                       // +0.0: zero (01)
  EXPECT_EQ(full_tag_word(f), 0x4fff);
  f.st[1] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0x7f};  // NaN: special (10)
  EXPECT_EQ(full_tag_word(f), 0x8fff);
}

}  // namespace
}  // namespace rrvm::gdb
