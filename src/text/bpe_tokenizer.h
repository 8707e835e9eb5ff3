// Byte-level BPE (GGUF tokenizer.ggml.model = "gpt2"), as llama.cpp's llm_tokenizer_bpe:
// special-token partition → pre-tokenizer words (byte-level encoded) → merges by rank within each
// word → token ids (a symbol with no token falls back to its single bytes, where those are tokens).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/vocab_tokenizer.h"

namespace shrink {

class BpeTokenizer : public VocabTokenizer {
 public:
  // REQUIRES: vocab.model == kBpe and vocab.Finalize() succeeded.
  explicit BpeTokenizer(Vocab vocab);

  // Merges one pre-tokenized (byte-level encoded) word and appends its ids to `out`.
  void EncodeWord(std::string_view word, std::vector<TokenId>& out) const;

 private:
  void EncodeFragment(std::string_view fragment, bool after_special,
                      std::vector<TokenId>& out) const override;
  std::string NormalPiece(const std::string& token_text) const override;
};

}  // namespace shrink
