// Model: a loaded transformer (config + weights + tokenizer + the source file's metadata). One
// transformer, configured by flags, serves every supported architecture (model/architecture.h).
//
// Loading:  LoadModel("model.gguf") or
//           LoadModel("stories260K.bin", {.tokenizer_path = "tok512.bin"}).
// Running:  PreparedModel prepared(*model);               once (model/prepared_model.h)
//           InferenceSession s(prepared, max_context);    any number (model/transformer.h)
//           s.Evaluate(tokens, logits) appends to the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/gguf.h"
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
  // tokenizer.chat_template from GGUF, else the architecture's default family name ("gemma");
  // empty means ChatML.
  std::string chat_template;
  // The source file's key/values in file order (tokenizer, chat template, general.*, the
  // architecture's keys), for writers that copy them into a new file. Empty for llama2.c.
  std::vector<std::pair<std::string, GgufValue>> metadata;
};

// Detects the container (GGUF magic, else llama2.c checkpoint) and loads config, weights and
// tokenizer. Errors name the file, the key or tensor, the offset and what was expected.
Result<std::unique_ptr<Model>> LoadModel(const std::string& path, const LoadOptions& options = {});

}  // namespace shrink
