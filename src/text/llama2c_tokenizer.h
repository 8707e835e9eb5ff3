// llama2.c's tokenizer (tokenizer.bin / tok512.bin), encoding and decoding as its run.c does.
//
// File layout (little-endian): i32 max_token_length, then for each of vocab_size tokens:
// f32 score | i32 len | len bytes of text (no terminator).
// Ids 0, 1, 2 are <unk>, BOS and EOS; ids 3..258 are the byte tokens <0x00>..<0xFF>.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/gguf.h"
#include "text/tokenizer.h"

namespace shrink {

class Llama2cTokenizer : public Tokenizer {
 public:
  struct Entry {
    std::string text;
    float score = 0.0f;
  };
  explicit Llama2cTokenizer(std::vector<Entry> vocab);

  // run.c's encode: [BOS] + (a dummy-prefix " " token when the text is not empty) + one token per
  // UTF-8 character (bytes + 3 where the character is not a token), then repeatedly merge the
  // adjacent pair whose concatenation is the token with the best score (leftmost on ties) + [EOS].
  // `parse_special` has no effect: the file marks no special tokens. add_special adds BOS only
  // (run.c's generate passes bos=1, eos=0).
  std::vector<TokenId> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override;
  // Byte tokens <0xXX> render as their raw byte. Ids 0..2 render as their text only with
  // `render_special` (run.c never prints them: generation stops at BOS).
  std::string TokenToPiece(TokenId id, bool render_special) const override;
  // As run.c's decode: after BOS, a piece's leading space is dropped.
  std::string TokenToPieceAfter(TokenId prev, TokenId id, bool render_special) const override;

  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.size()); }
  const std::vector<Entry>& entries() const { return vocab_; }  // the file's tokens, by id
  TokenId bos() const override { return 1; }
  TokenId eos() const override { return 2; }
  bool adds_bos() const override { return true; }
  bool IsEndOfGeneration(TokenId id) const override { return id == 1 || id == 2; }

 private:
  TokenId Find(std::string_view text) const;
  std::vector<Entry> vocab_;
  std::unordered_map<std::string, TokenId> ids_;
};

// The tokenizer.ggml.* keys under which llama.cpp's SentencePiece tokenizer ("llama") reads this
// vocabulary, as llama.cpp's convert-llama2c-to-ggml writes them: tokenizer.ggml.model "llama";
// tokens with the file's spaces turned back into SentencePiece's "▁" (U+2581; llama2.c's export
// replaced them) and ids 0, 1, 2 named <unk>, <s>, </s>; the file's scores; token types (0
// UNKNOWN, 1 and 2 CONTROL, <0xXX> tokens BYTE, empty texts CONTROL, the rest NORMAL); unknown,
// BOS and EOS ids 0, 1, 2.
std::vector<std::pair<std::string, GgufValue>> Llama2cVocabGgufMetadata(
    const Llama2cTokenizer& tokenizer);

}  // namespace shrink
