// Tiny Llama-family models with random F32 weights, for tests of anything that takes a Model
// (quantization plans and writers, calibration, pruning, training): small enough that a forward
// pass takes microseconds, shaped so that block-32 types fit every row and k-quants (256) do not.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "model/architecture.h"
#include "model/config_metadata.h"
#include "model/model.h"

namespace shrink {

// `layers` layers of width 64, 4 query heads and 2 key/value heads of 16, FFN 96, vocabulary 128,
// context 64, tied embeddings, with the architecture's flags (llama, gemma3) applied.
inline Config TinyTestConfig(int32_t layers = 2, std::string_view architecture = "llama") {
  Config c;
  c.n_layers = layers;
  c.d_model = 64;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.head_dim = 16;
  c.ffn_dim = 96;
  c.vocab_size = 128;
  c.context_length = 64;
  c.rope_dims = 16;
  c.rope_theta = 10000.0f;
  c.tied_embeddings = true;
  ApplyArchitecture(**FindArchitecture(architecture), c);
  c.SetUniformLayers();
  return c;
}

// A model of `config` (no tokenizer) whose matrices are N(0, weight_std²) and whose norm vectors
// are 1 + N(0, norm_jitter²) (exactly 1, drawing nothing, for norm_jitter 0), drawn from
// mt19937(seed) in tensor-table order; metadata is the config's GGUF keys
// (model/config_metadata.h).
inline std::unique_ptr<Model> RandomF32Model(const Config& config, uint32_t seed,
                                             float norm_jitter = 0.05f, float weight_std = 0.05f) {
  auto model = std::make_unique<Model>();
  model->config = config;
  model->weights = Weights::Skeleton(config);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, weight_std);
  model->weights.ForEachTensor([&](TensorView& t) {
    auto buffer = std::make_shared<std::vector<float>>(t.element_count());
    for (float& v : *buffer) {
      if (t.shape.size() != 1) {
        v = normal(rng);
      } else {
        v = norm_jitter == 0.0f ? 1.0f : 1.0f + (norm_jitter / weight_std) * normal(rng);
      }
    }
    t.type = TensorType::kF32;
    t.data = {reinterpret_cast<const uint8_t*>(buffer->data()), buffer->size() * sizeof(float)};
    model->weights.storage.push_back(buffer);
  });
  model->metadata = *ConfigGgufMetadata(config);
  return model;
}

}  // namespace shrink
