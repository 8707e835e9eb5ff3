#include "model/config_metadata.h"

#include <fmt/format.h>

#include "text/llama2c_tokenizer.h"

namespace shrink {
namespace {

// A scalar u32 when every layer has the same value, else an i32 array (one value per layer).
GgufValue PerLayer(const Config& c, int32_t LayerConfig::*field) {
  bool uniform = true;
  for (const LayerConfig& l : c.layers) uniform &= l.*field == c.layers[0].*field;
  if (uniform) return GgufValue::U32(static_cast<uint32_t>(c.layers[0].*field));
  GgufArray values(GgufValueType::kInt32);
  for (const LayerConfig& l : c.layers) values.Push(GgufValue::I32(l.*field));
  return GgufValue::Array(std::move(values));
}

}  // namespace

Result<GgufMetadata> ConfigGgufMetadata(const Config& c) {
  SHRINK_RETURN_IF_ERROR(c.Validate());
  for (size_t l = 0; l < c.layers.size(); ++l) {
    const LayerConfig& lc = c.layers[l];
    if (lc.sliding_window > 0) {
      return Status::Errorf("layer {}: sliding-window attention has no metadata writer yet", l);
    }
    if (lc.rope_theta != c.rope_theta) {
      return Status::Errorf("layer {}: RoPE base {} differs from the model's {}", l, lc.rope_theta,
                            c.rope_theta);
    }
    if (lc.rope_position_scale != c.layers[0].rope_position_scale) {
      return Status::Errorf("layer {}: RoPE position scale {} differs from layer 0's {}", l,
                            lc.rope_position_scale, c.layers[0].rope_position_scale);
    }
  }
  const std::string a = c.architecture + ".";
  GgufMetadata m;
  m.emplace_back("general.architecture", GgufValue::String(c.architecture));
  m.emplace_back(a + "block_count", GgufValue::U32(c.n_layers));
  m.emplace_back(a + "context_length", GgufValue::U32(c.context_length));
  m.emplace_back(a + "embedding_length", GgufValue::U32(c.d_model));
  m.emplace_back(a + "feed_forward_length", PerLayer(c, &LayerConfig::ffn_dim));
  m.emplace_back(a + "attention.head_count", PerLayer(c, &LayerConfig::n_heads));
  m.emplace_back(a + "attention.head_count_kv", PerLayer(c, &LayerConfig::n_kv_heads));
  m.emplace_back(a + "rope.freq_base", GgufValue::F32(c.rope_theta));
  m.emplace_back(a + "attention.layer_norm_rms_epsilon", GgufValue::F32(c.rms_norm_eps));
  m.emplace_back(a + "vocab_size", GgufValue::U32(c.vocab_size));
  m.emplace_back(a + "rope.dimension_count", GgufValue::U32(c.rope_dims));
  if (c.head_dim != c.d_model / c.n_heads) {
    m.emplace_back(a + "attention.key_length", GgufValue::U32(c.head_dim));
    m.emplace_back(a + "attention.value_length", GgufValue::U32(c.head_dim));
  }
  if (const float scale = c.layers[0].rope_position_scale; scale != 1.0f) {
    m.emplace_back(a + "rope.scaling.type", GgufValue::String("linear"));
    m.emplace_back(a + "rope.scaling.factor", GgufValue::F32(1.0f / scale));
  }
  if (c.final_logit_softcap > 0.0f) {
    m.emplace_back(a + "final_logit_softcapping", GgufValue::F32(c.final_logit_softcap));
  }
  return m;
}

Result<GgufMetadata> Llama2cGgufMetadata(const Model& model) {
  const auto* tokenizer = dynamic_cast<const Llama2cTokenizer*>(model.tokenizer.get());
  if (tokenizer == nullptr) {
    return Status::Error("the model has no llama2.c tokenizer to write as GGUF tokenizer keys");
  }
  SHRINK_ASSIGN_OR_RETURN(GgufMetadata m, ConfigGgufMetadata(model.config));
  for (auto& kv : Llama2cVocabGgufMetadata(*tokenizer)) m.push_back(std::move(kv));
  return m;
}

}  // namespace shrink
