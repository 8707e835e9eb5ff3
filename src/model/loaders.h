// Container-specific loaders behind LoadModel (model.h). Each returns a Model whose config and
// weights are filled and whose tokenizer is still null; LoadModel attaches the tokenizer. Tests
// that need only the transformer call these directly.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "io/gguf.h"
#include "model/model.h"

namespace shrink {

// Config of a GGUF from general.architecture (a row of model/architecture.h; any other name is an
// error listing the supported ones) and its "<arch>.*" keys. Required: <arch>.block_count,
// embedding_length, feed_forward_length, attention.head_count, attention.layer_norm_rms_epsilon,
// context_length. Optional with defaults: attention.head_count_kv (= head_count), rope.freq_base
// (10000), rope.dimension_count (head_dim), attention.key_length (embedding_length / head_count),
// vocab_size (length of tokenizer.ggml.tokens, else token_embd's rows), attention.sliding_window
// (0: none) with attention.sliding_window_pattern (the architecture's default) and
// rope.freq_base_swa (the architecture's default), rope.scaling.type/factor (linear only),
// final_logit_softcapping (0: none). head_count, head_count_kv and feed_forward_length may be
// per-layer arrays. Errors name the file and key.
Result<Config> ReadGgufConfig(const GgufFile& file);

// Weights as views into `file` (kept alive through Weights::storage). Every listed tensor must
// exist with the shape `config` implies; `output.weight` absent means tied embeddings
// (config.tied_embeddings is then set). Errors name the file and tensor.
Result<Weights> ReadGgufWeights(std::shared_ptr<const GgufFile> file, Config& config);

// Config, weights (views into `file`), metadata (every key/value, in file order) and chat template
// (tokenizer.chat_template, else the architecture's default) of an opened GGUF; no tokenizer. The
// metadata is moved from `file` into the model (held once, not twice): read anything else the file's
// keys give (the tokenizer) before this call.
Result<std::unique_ptr<Model>> ReadGgufModel(std::shared_ptr<GgufFile> file);

// Whole-file loaders without tokenizer.
Result<std::unique_ptr<Model>> LoadGgufTransformer(const std::string& path);
Result<std::unique_ptr<Model>> LoadLlama2cTransformer(const std::string& path);

}  // namespace shrink
