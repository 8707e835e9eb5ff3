#include "calib/residual_similarity.h"

#include <cmath>

#include "base/check.h"

namespace shrink {

void ResidualSimilarityCollector::OnResidual(int layer, ResidualPoint point,
                                             std::span<const float> x, int64_t T) {
  SHRINK_CHECK(layer >= 0 && T > 0 && x.size() % static_cast<size_t>(T) == 0);
  if (point == ResidualPoint::kBlockInput) {
    input_.assign(x.begin(), x.end());
    input_layer_ = layer;
    return;
  }
  // The session reports a block's input before its output, with the same T.
  SHRINK_CHECK(input_layer_ == layer && input_.size() == x.size());
  if (static_cast<size_t>(layer) >= rows_.size()) {
    rows_.resize(layer + 1, 0);
    cos_sum_.resize(layer + 1, 0.0);
  }
  const size_t C = x.size() / static_cast<size_t>(T);
  for (int64_t t = 0; t < T; ++t) {
    const float* a = input_.data() + t * C;
    const float* b = x.data() + t * C;
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < C; ++i) {
      ab += static_cast<double>(a[i]) * b[i];
      aa += static_cast<double>(a[i]) * a[i];
      bb += static_cast<double>(b[i]) * b[i];
    }
    cos_sum_[layer] += (aa > 0 && bb > 0) ? ab / std::sqrt(aa * bb) : 1.0;
  }
  rows_[layer] += T;
  input_layer_ = -1;
}

double ResidualSimilarityCollector::BlockInfluence(int layer) const {
  SHRINK_CHECK(layer >= 0 && layer < layers());
  if (rows_[layer] == 0) return 0.0;
  return 1.0 - cos_sum_[layer] / static_cast<double>(rows_[layer]);
}

}  // namespace shrink
