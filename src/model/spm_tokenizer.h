// SentencePiece-style tokenizer from GGUF (tokenizer.ggml.model = "llama"), as llama.cpp's
// llm_tokenizer_spm: spaces become "▁" (U+2581), a space is prefixed to the text at the start and
// after each special token (add_space_prefix, default true), adjacent symbols are merged by the
// best token score (ties: leftmost), and symbols with no token fall back to byte tokens <0xXX>.
#pragma once

#include <string>
#include <vector>

#include "model/tokenizer.h"
#include "model/vocab.h"

namespace shrink {

class SpmTokenizer : public Tokenizer {
 public:
  // REQUIRES: vocab.model == kSpm and vocab.Finalize() succeeded.
  explicit SpmTokenizer(Vocab vocab);

  std::vector<TokenId> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override;
  std::string TokenToPiece(TokenId id, bool render_special) const override;
  int32_t vocab_size() const override { return vocab_.size(); }
  TokenId bos() const override { return vocab_.bos; }
  TokenId eos() const override { return vocab_.eos; }
  bool adds_bos() const override { return vocab_.add_bos && vocab_.bos >= 0; }
  bool IsEndOfGeneration(TokenId id) const override;

  const Vocab& vocab() const { return vocab_; }
  // Tokenizes already escaped text ("▁" for spaces), appending ids to `out`.
  void EncodeEscaped(const std::string& text, std::vector<TokenId>& out) const;

 private:
  TokenId ByteToken(uint8_t byte) const;
  Vocab vocab_;
};

}  // namespace shrink
