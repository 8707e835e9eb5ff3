#include "text/special_tokens.h"

#include <algorithm>
#include <cctype>

namespace shrink {

std::vector<TextFragment> PartitionSpecialTokens(std::string_view text, const Vocab& vocab,
                                                 bool parse_special) {
  std::vector<TextFragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});

  // Every fragment is a substring of `text`, so a special token absent from `text` splits nothing:
  // find the ones present in one pass, then search only for those, in the vocabulary's order.
  std::vector<bool> present(vocab.special_tokens.size(), false);
  std::vector<int32_t> present_ranks;
  for (size_t pos = 0; pos < text.size(); ++pos) {
    vocab.special_trie.ForEachPrefixOf(text.substr(pos), [&](int32_t rank) {
      if (!present[rank]) present[rank] = true, present_ranks.push_back(rank);
    });
  }
  std::sort(present_ranks.begin(), present_ranks.end());

  std::vector<TextFragment> next;
  for (int32_t rank : present_ranks) {
    const TokenId id = vocab.special_tokens[rank];
    const Vocab::Token& token = vocab.tokens[id];
    if (!parse_special && (token.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = token.text;
    next.clear();
    for (const TextFragment& fragment : fragments) {
      if (fragment.is_token()) {
        next.push_back(fragment);
        continue;
      }
      size_t begin = fragment.offset;
      const size_t end = fragment.offset + fragment.length;
      const std::string_view window = text.substr(0, end);
      while (begin < end) {
        const size_t match = window.find(needle, begin);
        if (match == std::string_view::npos) break;
        size_t left_end = match;
        if (token.attr & kAttrLstrip) {
          while (left_end > begin && std::isspace(static_cast<unsigned char>(text[left_end - 1]))) {
            --left_end;
          }
        }
        if (left_end > begin) next.push_back({-1, begin, left_end - begin});
        next.push_back({id, match, needle.size()});
        begin = match + needle.size();
        if (token.attr & kAttrRstrip) {
          while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
        }
      }
      if (begin < end) next.push_back({-1, begin, end - begin});
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace shrink
