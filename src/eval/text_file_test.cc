#include "eval/text_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/test_paths.h"

namespace shrink {
namespace {

TEST(Utf8Test, AcceptsWellFormed) {
  EXPECT_EQ(FindInvalidUtf8(""), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("plain ascii\n"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
            std::nullopt);
}

TEST(Utf8Test, FindsFirstBadByte) {
  EXPECT_EQ(FindInvalidUtf8("ab\xff"), 2u);                 // never valid
  EXPECT_EQ(FindInvalidUtf8("a\x80"), 1u);                  // lone continuation byte
  EXPECT_EQ(FindInvalidUtf8("abc\xc3"), 3u);                // truncated at the end
  EXPECT_EQ(FindInvalidUtf8("\xc0\xaf"), 0u);               // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("x\xe0\x80\xaf"), 1u);          // overlong 3-byte
  EXPECT_EQ(FindInvalidUtf8("xy\xed\xa0\x80"), 2u);         // surrogate U+D800
  EXPECT_EQ(FindInvalidUtf8("\xf4\x90\x80\x80"), 0u);       // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("\xe2\x82 ok"), 0u);            // continuation missing
  EXPECT_EQ(FindInvalidUtf8("\xc3\xa9\xc3\xa9\xc3("), 4u);  // after two valid sequences
}

TEST(TextFileTest, ErrorNamesFileAndOffset) {
  const auto path = (testing::ScratchDir() / "latin1.txt").string();
  std::ofstream(path, std::ios::binary) << "Caf\xe9 au lait";
  Result<std::string> r = ReadUtf8TextFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            path + ": invalid UTF-8 at byte offset 3 (byte 0xe9); expected a UTF-8 text file");
}

TEST(TextFileTest, ReadsAndStrips) {
  const auto path = (testing::ScratchDir() / "ok.txt").string();
  std::ofstream(path, std::ios::binary) << "line\n\n";
  Result<std::string> r = ReadUtf8TextFile(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "line\n\n");
  EXPECT_EQ(StripOneTrailingNewline(*r), "line\n");
  EXPECT_FALSE(ReadUtf8TextFile("/nonexistent.txt").ok());
}

}  // namespace
}  // namespace shrink
