// The CLI's one JSON writer and the one escaping for outside text
// (trace/json_writer.h, trace/text_escape.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "trace/json_writer.h"
#include "trace/text_escape.h"

namespace rrvm::trace {
namespace {

TEST(JsonWriter, SeparatesMembersAndElementsAtEveryDepth) {
  JsonWriter j;
  j.begin_object().field("a", 1).key("b").begin_array().value(true).value("x");
  j.begin_object().end_object().begin_array().end_array().end_array();
  j.field("c", uint64_t{18446744073709551615u}).field("d", int64_t{-3}).key("e").null();
  j.end_object();
  EXPECT_EQ(j.str(),
            "{\"a\": 1, \"b\": [true, \"x\", {}, []], \"c\": 18446744073709551615, \"d\": -3, "
            "\"e\": null}");
}

TEST(JsonWriter, StringsCannotInjectMembers) {
  // issue 15 item 13: extract --json wrote a blob hash unescaped.
  JsonWriter j;
  j.begin_object().field("hash", "x\", \"pwn\": \"1").end_object();
  EXPECT_EQ(j.str(), "{\"hash\": \"x\\\", \\\"pwn\\\": \\\"1\"}");
  JsonWriter k;
  k.begin_object().field("a\"b", "\\").end_object();
  EXPECT_EQ(k.str(), "{\"a\\\"b\": \"\\\\\"}");
}

TEST(JsonWriter, NonFiniteNumbersAreNullAndFiniteOnesExact) {
  JsonWriter j;
  j.begin_array().value(std::nan("")).value(std::numeric_limits<double>::infinity());
  j.value(0.1).value(2.5e-7).value(3.0).end_array();
  EXPECT_EQ(j.str(), "[null, null, 0.1, 2.5e-07, 3]");
}

TEST(TextEscape, ControlCharactersNeverReachTheTerminal) {
  // Window title, clear screen, bell, CSI as a C1 control (U+009B in UTF-8).
  std::string hostile =
      "a\x1b]0;pwn\x07\x1b[2J\r\x7f\xc2\x9b"
      "b";
  for (Escape mode : {Escape::kJson, Escape::kLine, Escape::kLines}) {
    std::string out = escape_text(hostile, mode);
    for (char c : out) {
      auto u = static_cast<unsigned char>(c);
      EXPECT_TRUE(u >= 0x20 && u < 0x7f) << int(u) << " in " << out;
    }
    EXPECT_EQ(out, "a\\u001b]0;pwn\\u0007\\u001b[2J\\u000d\\u007f\\u009bb");
  }
}

TEST(TextEscape, NewlinesAndQuotesDependOnWhereTheTextGoes) {
  EXPECT_EQ(escape_text("say \"hi\"\n\\", Escape::kJson), "say \\\"hi\\\"\\u000a\\\\");
  EXPECT_EQ(escape_text("say \"hi\"\n\\", Escape::kLine), "say \"hi\"\\u000a\\");
  EXPECT_EQ(escape_text("line 1\nline 2\t", Escape::kLines), "line 1\nline 2\\u0009");
  EXPECT_EQ(json_escape("a\"b\\c\n\x01"), "a\\\"b\\\\c\\u000a\\u0001");
}

TEST(TextEscape, Utf8IsKeptAndBrokenUtf8BecomesEscapes) {
  EXPECT_EQ(escape_text("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80", Escape::kJson),
            "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");
  // A lone continuation byte, a truncated sequence, an overlong '/', a
  // surrogate, and a byte that never starts UTF-8.
  EXPECT_EQ(escape_text("\x80", Escape::kJson), "\\u0080");
  EXPECT_EQ(escape_text("\xe2\x82", Escape::kJson), "\\u00e2\\u0082");
  EXPECT_EQ(escape_text("\xc0\xaf", Escape::kJson), "\\u00c0\\u00af");
  EXPECT_EQ(escape_text("\xed\xa0\x80", Escape::kJson), "\\u00ed\\u00a0\\u0080");
  EXPECT_EQ(escape_text("\xff", Escape::kLine), "\\u00ff");
}

}  // namespace
}  // namespace rrvm::trace
