// VocabTokenizer: what the GGUF tokenizers (byte-level BPE, SentencePiece-style) share over a
// Vocab: BOS/EOS handling, the special-token partition of the input (llama.cpp's
// tokenizer_st_partition), end-of-generation ids, and rendering pieces by token attribute. A
// subclass supplies only how a fragment of plain text is encoded and how a normal token's text
// reads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"
#include "text/vocab.h"

namespace shrink {

class VocabTokenizer : public Tokenizer {
 public:
  // BOS (if add_special and the vocab adds it), then each fragment of `text`: special tokens as
  // their ids (when parse_special), plain text through EncodeFragment; then EOS likewise.
  std::vector<TokenId> Encode(std::string_view text, bool add_special,
                              bool parse_special) const final;
  // Unknown/control tokens render only with render_special; user-defined tokens as their text;
  // normal tokens through NormalPiece; byte tokens "<0xXX>" as that byte.
  std::string TokenToPiece(TokenId id, bool render_special) const final;
  int32_t vocab_size() const final { return vocab_.size(); }
  TokenId bos() const final { return vocab_.bos; }
  TokenId eos() const final { return vocab_.eos; }
  bool adds_bos() const final { return vocab_.add_bos && vocab_.bos >= 0; }
  bool IsEndOfGeneration(TokenId id) const final;

  const Vocab& vocab() const { return vocab_; }

 protected:
  // REQUIRES: vocab.Finalize() succeeded.
  explicit VocabTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}

  // Appends the ids of one fragment of plain text. `after_special` is true for a fragment at the
  // start of the text or right after a special token.
  virtual void EncodeFragment(std::string_view fragment, bool after_special,
                              std::vector<TokenId>& out) const = 0;
  // The text a normal token stands for.
  virtual std::string NormalPiece(const std::string& token_text) const = 0;

  Vocab vocab_;
};

}  // namespace shrink
