// Tokenizer: text ⇄ token ids, for the three vocabularies shrink reads:
//   - byte-level BPE from GGUF metadata (tokenizer.ggml.model = "gpt2"), with the pre-tokenizer
//     the file names in tokenizer.ggml.pre ("gpt-2", "starcoder", "smollm", ...);
//   - SentencePiece-style from GGUF metadata (tokenizer.ggml.model = "llama");
//   - llama2.c's tokenizer file (tok512.bin: max_token_length, then per token score f32, len
//     i32, bytes).
// Behaviour matches llama.cpp's llama_tokenize / llama_token_to_piece for the same vocabulary.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace shrink {

class GgufFile;

using TokenId = int32_t;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes `text`. With `add_special`, prepends BOS (and appends EOS) where the vocabulary's
  // metadata asks for it (tokenizer.ggml.add_bos_token / add_eos_token, else the model family's
  // default). With `parse_special`, control/user-defined token texts in `text` (e.g.
  // "<|im_start|>") become their ids; otherwise they are tokenized as plain text.
  virtual std::vector<TokenId> Encode(std::string_view text, bool add_special,
                                      bool parse_special) const = 0;
  // The text of one token as llama.cpp's token_to_piece renders it (special tokens rendered as text
  // when `render_special`; byte tokens as their raw byte; SentencePiece "▁" as a space).
  virtual std::string TokenToPiece(TokenId id, bool render_special) const = 0;
  // The text of `id` where it follows `prev` (-1 at the start) in a decoded stream. llama2.c's
  // decoder strips the leading space of a piece that follows BOS; the GGUF vocabularies return
  // TokenToPiece.
  virtual std::string TokenToPieceAfter(TokenId prev, TokenId id, bool render_special) const {
    return TokenToPiece(id, render_special);
  }

  virtual int32_t vocab_size() const = 0;
  virtual TokenId bos() const = 0;  // -1 when the vocabulary has none
  virtual TokenId eos() const = 0;  // -1 when the vocabulary has none
  // True when Encode(..., add_special=true, ...) prepends BOS.
  virtual bool adds_bos() const = 0;
  // True for tokens that end generation (EOS, EOT, <|im_end|> ...).
  virtual bool IsEndOfGeneration(TokenId id) const = 0;
};

// Builds a tokenizer from the tokenizer.ggml.* keys of a GGUF file. Errors name the file and key
// ("missing required key tokenizer.ggml.tokens", "tokenizer.ggml.tokens is empty", unknown
// model/pre).
Result<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const GgufFile& file);
// Reads a llama2.c tokenizer file (tok512.bin) for a vocabulary of `vocab_size` tokens.
Result<std::unique_ptr<Tokenizer>> LoadLlama2cTokenizer(const std::string& path,
                                                        int32_t vocab_size);

}  // namespace shrink
