// Config → GGUF metadata: the inverse of ReadGgufConfig (model/loaders.h), for writers whose source
// has no GGUF metadata of its own (llama2.c checkpoints).
//
// ReadGgufConfig applied to a file with these keys (and with an output.weight tensor exactly when
// the config is untied) gives back the same Config. Keys are written as llama.cpp's converters
// write them: u32 scalars, f32 floats, and i32 arrays for per-layer head counts and FFN widths that
// differ between layers; a key whose value is the loader's default for it (attention.key_length
// when head_dim is d_model / n_heads) is left out, so llama.cpp applies the same default.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/gguf.h"
#include "model/config.h"
#include "model/model.h"

namespace shrink {

using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

// general.architecture and the "<arch>.*" keys of `config`. Errors name what no key expresses
// yet: sliding-window layers, per-layer RoPE bases or scales that differ between layers.
Result<GgufMetadata> ConfigGgufMetadata(const Config& config);

// The whole metadata of a model loaded from a llama2.c checkpoint: ConfigGgufMetadata, then the
// tokenizer keys of its llama2.c vocabulary (text/llama2c_tokenizer.h: Llama2cVocabGgufMetadata),
// so that llama.cpp loads the written file with the same tokens. Error: a model whose tokenizer
// is not a llama2.c tokenizer.
Result<GgufMetadata> Llama2cGgufMetadata(const Model& model);

}  // namespace shrink
