// TextTrie: every stored key that starts at a position, shortest first, and nothing else.
#include "text/text_trie.h"

#include <gtest/gtest.h>

#include <vector>

namespace shrink {
namespace {

std::vector<int32_t> PrefixesOf(const TextTrie& trie, std::string_view text) {
  std::vector<int32_t> values;
  trie.ForEachPrefixOf(text, [&](int32_t v) { values.push_back(v); });
  return values;
}

TEST(TextTrie, FindsEveryStoredPrefixShortestFirst) {
  TextTrie trie;
  EXPECT_TRUE(trie.empty());
  trie.Insert("\n", 0);
  trie.Insert("\n\n", 1);
  trie.Insert("<start_of_turn>", 2);
  trie.Insert("<s>", 3);
  trie.Insert("", 9);  // ignored
  EXPECT_FALSE(trie.empty());

  EXPECT_EQ(PrefixesOf(trie, "\n\n\nx"), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(PrefixesOf(trie, "<start_of_turn>user"), (std::vector<int32_t>{2}));
  EXPECT_EQ(PrefixesOf(trie, "<s>"), (std::vector<int32_t>{3}));
  EXPECT_TRUE(PrefixesOf(trie, "<start_of_tur").empty());  // a key cut short is no match
  EXPECT_TRUE(PrefixesOf(trie, "x\n").empty());            // only keys starting at position 0
  EXPECT_TRUE(PrefixesOf(trie, "").empty());
}

TEST(TextTrie, LastValueWinsAndBytesAreUnsigned) {
  TextTrie trie;
  trie.Insert("\xE2\x96\x81", 1);  // "▁": bytes >= 0x80
  trie.Insert("\xE2\x96\x81", 2);
  EXPECT_EQ(PrefixesOf(trie, "\xE2\x96\x81x"), (std::vector<int32_t>{2}));
  EXPECT_TRUE(PrefixesOf(trie, "\xE2\x96").empty());
}

}  // namespace
}  // namespace shrink
