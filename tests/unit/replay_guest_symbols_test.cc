// Names and code for bisect reports: System.map parsing, lookup by
// address, ELF symbols of a built guest, and Capstone disassembly with the
// divergent instruction marked.
#include "replay/guest_symbols.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "replay/disassembly.h"

namespace rrvm {
namespace {

// One file per test process: ctest runs the tests of this file in parallel.
std::string write_temp(const std::string& text) {
  std::string path =
      ::testing::TempDir() + "/rrvm-symbols-test-" + std::to_string(::getpid()) + ".map";
  std::ofstream(path) << text;
  return path;
}

TEST(GuestSymbols, SystemMapLookupGivesSymbolPlusOffset) {
  auto s = GuestSymbols::from_map_file(
      write_temp("ffffffff81000000 T _text\nffffffff81000100 T start_kernel\n"
                 "ffffffff81000400 t mp_find\n"));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.describe(0xffffffff81000100), "start_kernel");
  EXPECT_EQ(s.describe(0xffffffff81000148), "start_kernel+0x48");
  EXPECT_EQ(s.describe(0xffffffff81000500), "mp_find+0x100");
  EXPECT_EQ(s.describe(0x1000), "") << "below every symbol";
  EXPECT_EQ(s.address_of("mp_find"), 0xffffffff81000400u);
}

TEST(GuestSymbols, MalformedMapNamesFileAndLine) {
  try {
    GuestSymbols::from_map_file(write_temp("ffff T ok\nnot-hex T bad\n"));
    FAIL() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(GuestSymbols::from_map_file("/nonexistent/System.map"), std::runtime_error);
}

TEST(GuestSymbols, NonElfImageHasNoSymbols) {
  std::vector<uint8_t> junk(64, 0x90);
  EXPECT_TRUE(GuestSymbols::from_elf(junk).empty());
}

TEST(Disassembly, MarksTheInstructionAndShowsItsNeighbours) {
  // mov eax, 1; in al, 0x71; test al, 1; jne +2; nop; nop
  const uint8_t code[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0xe4, 0x71,
                          0xa8, 0x01, 0x75, 0x02, 0x90, 0x90};
  auto insns = disassemble_around(code, 0x100000, 0x100005, 4, 2);
  ASSERT_EQ(insns.size(), 4u);
  EXPECT_EQ(insns[0].addr, 0x100000u);
  EXPECT_TRUE(insns[1].marked);
  EXPECT_EQ(insns[1].text, "in al, 0x71");
  EXPECT_FALSE(insns[0].marked || insns[2].marked || insns[3].marked);
}

TEST(Disassembly, AMarkInsideAnInstructionRestartsThere) {
  const uint8_t code[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0x90};
  auto insns = disassemble_around(code, 0x1000, 0x1002);  // inside the mov
  ASSERT_FALSE(insns.empty());
  EXPECT_TRUE(insns[0].marked);
  EXPECT_EQ(insns[0].addr, 0x1002u) << "decoded from the mark, nothing before it";
  EXPECT_TRUE(disassemble_around(code, 0x1000, 0x2000).empty()) << "outside the bytes";
}

TEST(Disassembly, DecodesInTheCpusModeAndSyntax) {
  // mov eax, [0x102008]; inc eax — in 32-bit code. In 64-bit code a1 takes
  // an 8-byte address and 0x40 is a REX prefix.
  const uint8_t code[] = {0xa1, 0x08, 0x20, 0x10, 0x00, 0x40, 0x90, 0x90, 0x90, 0x90, 0x90};
  auto insns = disassemble(code, 0x100005, 2, CodeBits::k32);
  ASSERT_EQ(insns.size(), 2u);
  EXPECT_EQ(insns[0].text, "mov eax, dword ptr [0x102008]");
  EXPECT_EQ(insns[0].size, 5);
  EXPECT_EQ(insns[1].addr, 0x10000au);
  EXPECT_EQ(insns[1].text, "inc eax");
  insns = disassemble(code, 0x100005, 1, CodeBits::k64);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_EQ(insns[0].size, 9) << insns[0].text;
  insns = disassemble(code, 0x100005, 1, CodeBits::k32, AsmSyntax::kAtt);
  ASSERT_EQ(insns.size(), 1u);
  EXPECT_EQ(insns[0].text, "movl 0x102008, %eax");
  EXPECT_EQ(disassemble(code, 0, 100, CodeBits::k32).size(), 7u) << "stops at the end of the bytes";
}

}  // namespace
}  // namespace rrvm
