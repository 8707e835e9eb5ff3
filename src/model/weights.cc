#include "model/weights.h"

#include <fmt/format.h>

#include "base/check.h"

namespace shrink {

std::string_view TensorRoleName(TensorRole role) {
  switch (role) {
    case TensorRole::kTokenEmbd:
      return "token_embd";
    case TensorRole::kAttnNorm:
      return "attn_norm";
    case TensorRole::kAttnQ:
      return "attn_q";
    case TensorRole::kAttnK:
      return "attn_k";
    case TensorRole::kAttnV:
      return "attn_v";
    case TensorRole::kAttnOutput:
      return "attn_output";
    case TensorRole::kFfnNorm:
      return "ffn_norm";
    case TensorRole::kFfnGate:
      return "ffn_gate";
    case TensorRole::kFfnUp:
      return "ffn_up";
    case TensorRole::kFfnDown:
      return "ffn_down";
    case TensorRole::kOutputNorm:
      return "output_norm";
    case TensorRole::kOutput:
      return "output";
  }
  return "unknown";
}

std::string TensorName(TensorRole role, int layer) {
  if (layer < 0) return fmt::format("{}.weight", TensorRoleName(role));
  return fmt::format("blk.{}.{}.weight", layer, TensorRoleName(role));
}

int64_t TensorView::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::span<const float> TensorView::f32() const {
  SHRINK_CHECK(type == TensorType::kF32);
  return {reinterpret_cast<const float*>(data.data()), data.size() / sizeof(float)};
}

namespace {
TensorView MakeView(TensorRole role, int layer, std::vector<int64_t> shape) {
  TensorView v;
  v.name = TensorName(role, layer);
  v.role = role;
  v.layer = layer;
  v.shape = std::move(shape);
  return v;
}
}  // namespace

Weights Weights::Skeleton(const Config& config) {
  const int64_t C = config.d_model;
  Weights w;
  w.token_embd = MakeView(TensorRole::kTokenEmbd, -1, {C, config.vocab_size});
  w.layers.resize(config.n_layers);
  for (int l = 0; l < config.n_layers; ++l) {
    const int64_t q = config.q_dim(l), kv = config.kv_dim(l), f = config.layers[l].ffn_dim;
    LayerWeights& lw = w.layers[l];
    lw.attn_norm = MakeView(TensorRole::kAttnNorm, l, {C});
    lw.attn_q = MakeView(TensorRole::kAttnQ, l, {C, q});
    lw.attn_k = MakeView(TensorRole::kAttnK, l, {C, kv});
    lw.attn_v = MakeView(TensorRole::kAttnV, l, {C, kv});
    lw.attn_output = MakeView(TensorRole::kAttnOutput, l, {q, C});
    lw.ffn_norm = MakeView(TensorRole::kFfnNorm, l, {C});
    lw.ffn_gate = MakeView(TensorRole::kFfnGate, l, {C, f});
    lw.ffn_up = MakeView(TensorRole::kFfnUp, l, {C, f});
    lw.ffn_down = MakeView(TensorRole::kFfnDown, l, {f, C});
  }
  w.output_norm = MakeView(TensorRole::kOutputNorm, -1, {C});
  if (!config.tied_embeddings) w.output = MakeView(TensorRole::kOutput, -1, {C, config.vocab_size});
  return w;
}

}  // namespace shrink
