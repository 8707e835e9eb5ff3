// Splitting raw text at special-token texts before tokenization (llama.cpp's
// tokenizer_st_partition).
//
// Special tokens (control, user-defined, unknown) are tried longest first; each one splits every
// text fragment at all of its non-overlapping occurrences, left to right. Without `parse_special`,
// control and unknown tokens are left in the text, but user-defined tokens still split it (as HF
// tokenizers do). A token with the lstrip/rstrip attribute also swallows the ASCII whitespace
// before/after it; no vocabulary we load sets those attributes, so by default nothing is stripped.
//
// Cost: one pass over the text to find which special tokens occur (Vocab::special_trie), then one
// search per fragment for each of those only, so a vocabulary with thousands of special tokens
// (Gemma-3: 6,414) costs no more than one with a few.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "text/vocab.h"

namespace shrink {

struct TextFragment {
  TokenId token = -1;  // >= 0: a special token; -1: raw text [offset, offset + length)
  size_t offset = 0;
  size_t length = 0;
  bool is_token() const { return token >= 0; }
};

std::vector<TextFragment> PartitionSpecialTokens(std::string_view text, const Vocab& vocab,
                                                 bool parse_special);

}  // namespace shrink
