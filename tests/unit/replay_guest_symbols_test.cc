// Names and code for bisect reports: System.map parsing, lookup by
// address, ELF symbols of a built guest, and Capstone disassembly with the
// divergent instruction marked.
#include "replay/guest_symbols.h"

#include <gtest/gtest.h>

#include <fstream>

#include "replay/disassembly.h"

namespace rrvm {
namespace {

std::string write_temp(const std::string& text) {
  std::string path = ::testing::TempDir() + "/rrvm-symbols-test.map";
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

}  // namespace
}  // namespace rrvm
