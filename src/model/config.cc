#include "model/config.h"

#include <fmt/format.h>

#include <cmath>

namespace shrink {

std::string_view RopeOrderingName(RopeOrdering ordering) {
  return ordering == RopeOrdering::kAdjacentPairs ? "norm" : "neox";
}

void Config::SetUniformLayers() {
  layers.assign(n_layers, LayerConfig{.n_heads = n_heads,
                                      .n_kv_heads = n_kv_heads,
                                      .ffn_dim = ffn_dim,
                                      .rope_theta = rope_theta});
}

float Config::attention_scale_or_default() const {
  return attention_scale > 0.0f ? attention_scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
}

Status Config::Validate() const {
  auto positive = [](const char* name, int64_t v) -> Status {
    if (v <= 0) return Status::Errorf("config field {} is {}, expected > 0", name, v);
    return Status::Ok();
  };
  SHRINK_RETURN_IF_ERROR(positive("n_layers", n_layers));
  SHRINK_RETURN_IF_ERROR(positive("d_model", d_model));
  SHRINK_RETURN_IF_ERROR(positive("head_dim", head_dim));
  SHRINK_RETURN_IF_ERROR(positive("vocab_size", vocab_size));
  SHRINK_RETURN_IF_ERROR(positive("context_length", context_length));
  if (!(embedding_scale > 0.0f) || !(attention_scale >= 0.0f) || !(final_logit_softcap >= 0.0f)) {
    return Status::Errorf(
        "config: embedding scale {}, attention scale {}, logit soft-cap {}: expected > 0, >= 0, "
        ">= 0",
        embedding_scale, attention_scale, final_logit_softcap);
  }
  if (!(rms_norm_eps > 0.0f))
    return Status::Errorf("config field rms_norm_eps is {}, expected > 0", rms_norm_eps);
  if (!(rope_theta > 0.0f))
    return Status::Errorf("config field rope_theta is {}, expected > 0", rope_theta);
  if (rope_dims <= 0 || rope_dims % 2 != 0 || rope_dims > head_dim) {
    return Status::Errorf(
        "config field rope_dims is {}, expected an even number in [2, head_dim = {}]", rope_dims,
        head_dim);
  }
  if (static_cast<int32_t>(layers.size()) != n_layers) {
    return Status::Errorf("config has {} per-layer entries, expected n_layers = {}", layers.size(),
                          n_layers);
  }
  for (int l = 0; l < n_layers; ++l) {
    const LayerConfig& lc = layers[l];
    if (lc.n_heads <= 0 || lc.n_kv_heads <= 0 || lc.n_heads % lc.n_kv_heads != 0) {
      return Status::Errorf(
          "layer {}: n_heads {} and n_kv_heads {}: expected both > 0 and n_heads a "
          "multiple of n_kv_heads",
          l, lc.n_heads, lc.n_kv_heads);
    }
    if (lc.ffn_dim <= 0)
      return Status::Errorf("layer {}: ffn_dim is {}, expected > 0", l, lc.ffn_dim);
    if (lc.sliding_window < 0)
      return Status::Errorf("layer {}: sliding_window is {}, expected >= 0", l, lc.sliding_window);
    if (!(lc.rope_theta > 0.0f) || !(lc.rope_position_scale > 0.0f)) {
      return Status::Errorf("layer {}: rope base {} and position scale {}: expected both > 0", l,
                            lc.rope_theta, lc.rope_position_scale);
    }
  }
  return Status::Ok();
}

std::string Config::Summary() const {
  return fmt::format(
      "{}: {} layers, d_model {}, {} heads / {} kv heads of {}, ffn {}, vocab {}, context {}, rope "
      "{} "
      "theta {} dims {}, eps {}, {} embeddings, {}{}{}",
      architecture, n_layers, d_model, n_heads, n_kv_heads, head_dim, ffn_dim, vocab_size,
      context_length, RopeOrderingName(rope_ordering), rope_theta, rope_dims, rms_norm_eps,
      tied_embeddings ? "tied" : "untied", ActivationName(activation), qk_norm ? ", qk-norm" : "",
      post_norms ? ", post-norms" : "");
}

}  // namespace shrink
