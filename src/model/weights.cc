#include "model/weights.h"

#include "base/check.h"

namespace shrink {

int64_t TensorView::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::span<const float> TensorView::f32() const {
  SHRINK_CHECK(type == TensorType::kF32);
  return {reinterpret_cast<const float*>(data.data()), data.size() / sizeof(float)};
}

Weights Weights::Skeleton(const Config& config) {
  Weights w;
  w.layers.resize(config.n_layers);
  auto describe = [&](const TensorSpec& spec, int layer, TensorView& v) {
    v = {};
    v.role = spec.role;
    v.layer = layer;
    if (!spec.listed(config)) return;
    v.name = TensorName(spec.role, layer);
    v.shape = spec.shape(config, layer);
  };
  for (const TensorSpec& spec : TensorTable()) {
    if (spec.scope == TensorScope::kModel) {
      describe(spec, -1, w.*spec.model_member);
    } else {
      for (int l = 0; l < config.n_layers; ++l) describe(spec, l, w.layers[l].*spec.layer_member);
    }
  }
  return w;
}

void FactorizeLinear(LayerWeights& layer, TensorRole role, int64_t rank) {
  const TensorSpec& spec = SpecOf(role);
  SHRINK_CHECK(Factorable(spec) && rank >= 1);
  TensorView& whole = layer.*spec.layer_member;
  SHRINK_CHECK(whole.listed() && whole.shape.size() == 2);
  LowRankPair& pair = layer.low_rank[static_cast<size_t>(role)];
  for (TensorPart part : {TensorPart::kLowRankA, TensorPart::kLowRankB}) {
    TensorView& v = part == TensorPart::kLowRankA ? pair.a : pair.b;
    v = {};
    v.name = TensorName(role, whole.layer, part);
    v.role = role;
    v.layer = whole.layer;
    v.part = part;
    v.shape = FactorShape(whole.shape, part, rank);
  }
  whole.name.clear();
  whole.data = {};
}

}  // namespace shrink
