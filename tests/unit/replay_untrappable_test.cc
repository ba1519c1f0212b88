#include "replay/untrappable.h"

#include <gtest/gtest.h>

#include "tests/unit/firmware_test_images.h"

namespace rrvm {
namespace {

TEST(Untrappable, FindsRdtscRdrandRdseedAndRdtscp) {
  std::vector<uint8_t> code = {
      0x90,                    // nop
      0x0F, 0x31,              // rdtsc            at base+1
      0x48, 0x0F, 0xC7, 0xF0,  // rdrand rax       at base+3
      0x0F, 0xC7, 0xF9,        // rdseed ecx       at base+7
      0x0F, 0x01, 0xF9,        // rdtscp           at base+10
      0xC3,                    // ret
  };
  auto hits = find_untrappable(code, 0x1000);
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[0].address, 0x1001u);
  EXPECT_EQ(hits[0].text, "rdtsc");
  EXPECT_EQ(hits[1].address, 0x1003u);
  EXPECT_EQ(hits[1].text, "rdrand rax");
  EXPECT_EQ(hits[2].text, "rdseed ecx");
  EXPECT_EQ(hits[3].text, "rdtscp");
}

TEST(Untrappable, IgnoresLookalikeBytes) {
  // cmpxchg8b [rax] is 0F C7 /1 with a memory operand; an immediate 0x0F31.
  std::vector<uint8_t> code = {0x0F, 0xC7, 0x08, 0xB8, 0x0F, 0x00, 0x00, 0x00, 0x90};
  EXPECT_TRUE(find_untrappable(code, 0).empty());
  EXPECT_TRUE(find_untrappable({}, 0).empty());
}

// A digest that differs at the end of the run: the kernel's executable
// segments are searched, at their virtual addresses; data that looks like
// rdtsc is not code.
TEST(Untrappable, KernelHintNamesTheExecutableSegmentsInstructions) {
  test::ElfSpec s;
  s.is64 = false;
  s.machine = 3;
  s.entry = 0x400000;
  s.segments.push_back({1, 0x400000, 0x400000, {0x90, 0x0F, 0x31, 0xC3}, 0, 5});
  s.segments.push_back({1, 0x500000, 0x500000, {0x0F, 0x31, 0x0F, 0x31}, 0, 6});  // RW data
  std::string hint = untrappable_in_kernel_hint(test::build_elf(s));
  EXPECT_NE(hint.find("hint: the guest's kernel contains instructions KVM cannot trap"),
            std::string::npos)
      << hint;
  EXPECT_NE(hint.find("(1 in its code)"), std::string::npos) << hint;
  EXPECT_NE(hint.find("0x400001: rdtsc"), std::string::npos) << hint;
  EXPECT_EQ(hint.find("0x500000"), std::string::npos) << hint;
  s.segments.resize(1);
  s.segments[0].data = {0x90, 0xC3};
  EXPECT_EQ(untrappable_in_kernel_hint(test::build_elf(s)), "");
  EXPECT_EQ(untrappable_in_kernel_hint(std::vector<uint8_t>{0x0F, 0x31}), "") << "not ELF";
}

// A bzImage (Linux): its decompressor, which picks the KASLR offsets with
// rdtsc and rdrand, is searched at its 1 MiB load address; the compressed
// kernel it carries (payload_offset/payload_length) is data, not searched.
TEST(Untrappable, KernelHintSearchesABzImagesDecompressorButNotItsPayload) {
  test::BzSpec s;
  s.kernel = test::Bytes(64, 0x90);
  s.kernel[4] = 0x0F, s.kernel[5] = 0x31;        // rdtsc at 0x100004
  s.payload_offset = 16, s.payload_length = 32;  // 16..47: compressed data
  s.kernel[20] = 0x0F, s.kernel[21] = 0x31;      // looks like rdtsc: data
  s.kernel[50] = 0x48, s.kernel[51] = 0x0F, s.kernel[52] = 0xC7, s.kernel[53] = 0xF0;  // rdrand
  std::string hint = untrappable_in_kernel_hint(test::build_bzimage(s));
  EXPECT_NE(hint.find("(2 in its bzImage decompressor, which picks the KASLR offsets with them"),
            std::string::npos)
      << hint;
  EXPECT_NE(hint.find("0x100004: rdtsc"), std::string::npos) << hint;
  EXPECT_NE(hint.find("0x100032: rdrand rax"), std::string::npos) << hint;
  EXPECT_EQ(hint.find("0x100014"), std::string::npos) << "the payload is not code: " << hint;
  s.kernel[4] = s.kernel[50] = 0x90;
  s.kernel[51] = s.kernel[52] = s.kernel[53] = 0x90;
  EXPECT_EQ(untrappable_in_kernel_hint(test::build_bzimage(s)), "");
}

}  // namespace
}  // namespace rrvm
