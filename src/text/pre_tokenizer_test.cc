// Pre-tokenizer splits, checked by hand against the regexes they stand for (see pre_tokenizer.h).
#include "text/pre_tokenizer.h"

#include <gtest/gtest.h>

#include "text/unicode.h"

namespace shrink {
namespace {

std::vector<std::string> Split(std::string_view text, PreTokenizerKind kind) {
  const std::vector<uint32_t> cpts = DecodeUtf8(text);
  std::vector<std::string> words;
  size_t start = 0;
  for (size_t len : SplitWords(cpts, kind)) {
    std::string& w = words.emplace_back();
    for (size_t i = start; i < start + len; ++i) AppendUtf8(cpts[i], w);
    start += len;
  }
  return words;
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, Gpt2Regex) {
  const auto k = PreTokenizerKind::kGpt2;
  EXPECT_EQ(Split("Hello world", k), (Words{"Hello", " world"}));
  // \s+(?!\S) leaves the last space to the next word.
  EXPECT_EQ(Split("a  b", k), (Words{"a", " ", " b"}));
  EXPECT_EQ(Split("a  ", k), (Words{"a", "  "}));
  EXPECT_EQ(Split("I'm can't we'LL", k), (Words{"I", "'m", " can", "'t", " we", "'", "LL"}));
  EXPECT_EQ(Split("x 123.45!!", k), (Words{"x", " 123", ".", "45", "!!"}));
  EXPECT_EQ(Split("\n\n hi", k), (Words{"\n\n", " hi"}));
  EXPECT_EQ(Split("Ελλάδα ½", k), (Words{"Ελλάδα", " ½"}));
}

TEST(PreTokenizer, StarcoderIsolatesDigits) {
  EXPECT_EQ(Split("x 123", PreTokenizerKind::kStarcoder), (Words{"x", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, DefaultGroupsPunctuationAndThreeDigits) {
  const auto k = PreTokenizerKind::kDefault;
  EXPECT_EQ(Split("12345a", k), (Words{"123", "45", "a"}));
  EXPECT_EQ(Split("a+=b", k), (Words{"a", "+=", "b"}));
  // A backquote is neither \p{P} nor in the extra set.
  EXPECT_EQ(Split("a`b", k), (Words{"a", "`", "b"}));
}

// gguf_model fuzz finding (fuzz/regressions/gguf_model/pre-tokenizer-name-with-newline): the
// unsupported name went into the error as is, so a newline in it split the one-line message.
TEST(PreTokenizer, UnsupportedNameIsEscapedIntoOneLine) {
  Result<PreTokenizerKind> kind = PreTokenizerFromName("gp\n-2");
  ASSERT_FALSE(kind.ok());
  const std::string message = kind.status().message();
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("gp\\x0a-2"), std::string::npos) << message;
}

TEST(PreTokenizer, ByteLevelEncoding) {
  EXPECT_EQ(ByteToBpeChar(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(ByteToBpeChar('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(ByteToBpeChar('a'), "a");
  for (int b = 0; b < 256; ++b) EXPECT_EQ(BpeCharToByte(DecodeUtf8(ByteToBpeChar(b))[0]), b);
  // Invalid UTF-8 becomes U+FFFD before splitting, as in llama.cpp.
  EXPECT_EQ(PreTokenize("\xFF", PreTokenizerKind::kGpt2),
            (Words{ByteToBpeChar(0xEF) + ByteToBpeChar(0xBF) + ByteToBpeChar(0xBD)}));
}

TEST(Unicode, FlagsFromGeneratedTables) {
  EXPECT_TRUE(FlagsOf('a').is_letter());
  EXPECT_TRUE(FlagsOf(0x4E2D).is_letter());  // 中
  EXPECT_TRUE(FlagsOf(0x0663).is_number());  // Arabic-Indic three
  EXPECT_TRUE(FlagsOf(0x3000).is_whitespace());
  EXPECT_FALSE(FlagsOf(0x1C).is_whitespace());  // not White_Space, though Python's isspace says so
  EXPECT_EQ(FlagsOf(0x10FFFF).category(), CodepointFlags::kUnassigned);
}

}  // namespace
}  // namespace shrink
