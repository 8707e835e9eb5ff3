// SentencePiece-style tokenizer from GGUF (tokenizer.ggml.model = "llama"), as llama.cpp's
// llm_tokenizer_spm: spaces become "▁" (U+2581), a space is prefixed to the text at the start and
// after each special token (add_space_prefix, default true), adjacent symbols are merged by the
// best token score (ties: leftmost), and symbols with no token fall back to byte tokens <0xXX>.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/vocab_tokenizer.h"

namespace shrink {

class SpmTokenizer : public VocabTokenizer {
 public:
  // REQUIRES: vocab.model == kSpm and vocab.Finalize() succeeded.
  explicit SpmTokenizer(Vocab vocab);

  // Tokenizes already escaped text ("▁" for spaces), appending ids to `out`.
  void EncodeEscaped(std::string_view text, std::vector<TokenId>& out) const;

 private:
  void EncodeFragment(std::string_view fragment, bool after_special,
                      std::vector<TokenId>& out) const override;
  std::string NormalPiece(const std::string& token_text) const override;
  TokenId ByteToken(uint8_t byte) const;
};

}  // namespace shrink
