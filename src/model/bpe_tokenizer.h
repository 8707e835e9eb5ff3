// Byte-level BPE (GGUF tokenizer.ggml.model = "gpt2"), as llama.cpp's llm_tokenizer_bpe:
// special-token partition → pre-tokenizer words (byte-level encoded) → merges by rank within each
// word → token ids (a symbol with no token falls back to its single bytes, where those are tokens).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/tokenizer.h"
#include "model/vocab.h"

namespace shrink {

class BpeTokenizer : public Tokenizer {
 public:
  // REQUIRES: vocab.model == kBpe and vocab.Finalize() succeeded.
  explicit BpeTokenizer(Vocab vocab);

  std::vector<TokenId> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override;
  std::string TokenToPiece(TokenId id, bool render_special) const override;
  int32_t vocab_size() const override { return vocab_.size(); }
  TokenId bos() const override { return vocab_.bos; }
  TokenId eos() const override { return vocab_.eos; }
  bool adds_bos() const override { return vocab_.add_bos && vocab_.bos >= 0; }
  bool IsEndOfGeneration(TokenId id) const override;

  const Vocab& vocab() const { return vocab_; }
  // Merges one pre-tokenized (byte-level encoded) word and appends its ids to `out`.
  void EncodeWord(const std::string& word, std::vector<TokenId>& out) const;

 private:
  Vocab vocab_;
};

}  // namespace shrink
