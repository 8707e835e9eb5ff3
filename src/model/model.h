// Model: a loaded Llama-family transformer (config + weights + tokenizer) and an inference session
// with a KV cache. One transformer, configured by flags, serves every supported model.
//
// Loading:  LoadModel("model.gguf") or
//           LoadModel("stories260K.bin", {.tokenizer_path = "tok512.bin"}).
// Running:  InferenceSession s(model, max_context);
//           s.Evaluate(tokens, logits) appends to the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "model/weights.h"
#include "text/tokenizer.h"

namespace shrink {

struct LoadOptions {
  std::string tokenizer_path;  // required for llama2.c checkpoints, ignored for GGUF
};

struct Model {
  Config config;
  Weights weights;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string chat_template;  // tokenizer.chat_template from GGUF, empty when absent
};

// Detects the container (GGUF magic, else llama2.c checkpoint) and loads config, weights and
// tokenizer. Errors name the file, the key or tensor, the offset and what was expected.
Result<std::unique_ptr<Model>> LoadModel(const std::string& path, const LoadOptions& options = {});

// Runs the model over a growing sequence. Not thread-safe; one session per thread of generation.
class InferenceSession {
 public:
  // REQUIRES: `model` outlives the session. `max_context` bounds the KV cache (tokens).
  InferenceSession(const Model& model, int32_t max_context);
  ~InferenceSession();

  // Appends `tokens` (T of them) at positions [position(), position() + T) and writes the logits of
  // every one of them to `logits`: (T, vocab_size) row-major, F32. Errors when the cache would
  // overflow or a token id is out of range.
  Status Evaluate(std::span<const TokenId> tokens, std::span<float> logits);
  // As above, but computes logits only for batch rows [first_logit_row, T): `logits` is
  // (T - first_logit_row, vocab_size). Perplexity scores only the second half of each chunk and
  // skips the output projection for the rest.
  Status Evaluate(std::span<const TokenId> tokens, std::span<float> logits,
                  int32_t first_logit_row);
  int32_t position() const;
  void Reset();  // empties the KV cache

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace shrink
