#include "prune/width_scores.h"

#include <cmath>

#include "base/check.h"

namespace shrink {

WidthScoreCollector::WidthScoreCollector(const Config& config) : config_(config) {
  const int L = config.n_layers;
  ffn_sum_.resize(L);
  head_sum_.resize(L);
  column_sum_.resize(L);
  ffn_rows_.assign(L, 0);
  attn_rows_.assign(L, 0);
  residual_rows_.assign(L, 0);
  residual_sum_.assign(L, 0.0);
  for (int l = 0; l < L; ++l) {
    ffn_sum_[l].assign(config.layers[l].ffn_dim, 0.0);
    head_sum_[l].assign(config.layers[l].n_heads, 0.0);
    column_sum_[l].assign(config.q_dim(l), 0.0);
  }
  // Norm slots: 2 per layer (attention input, FFN input) and one for the output norm.
  norm_sum_.assign(2 * L + 1, std::vector<double>(config.d_model, 0.0));
  norm_rows_.assign(2 * L + 1, 0);
}

void WidthScoreCollector::OnLinearInput(int layer, TensorRole role, std::span<const float> x,
                                        int64_t T) {
  if (T <= 0) return;
  const int64_t C_in = static_cast<int64_t>(x.size()) / T;
  if (role == TensorRole::kFfnDown) {
    std::vector<double>& sum = ffn_sum_[layer];
    SHRINK_CHECK(C_in == static_cast<int64_t>(sum.size()));
    for (int64_t t = 0; t < T; ++t) {
      const float* row = x.data() + t * C_in;
      for (int64_t j = 0; j < C_in; ++j) sum[j] += std::fabs(row[j]);
    }
    ffn_rows_[layer] += T;
  } else if (role == TensorRole::kAttnOutput) {
    std::vector<double>& heads = head_sum_[layer];
    std::vector<double>& cols = column_sum_[layer];
    SHRINK_CHECK(C_in == static_cast<int64_t>(cols.size()));
    const int64_t hd = config_.head_dim;
    for (int64_t t = 0; t < T; ++t) {
      const float* row = x.data() + t * C_in;
      for (size_t h = 0; h < heads.size(); ++h) {
        double sq = 0.0;
        for (int64_t i = 0; i < hd; ++i) {
          const double v = row[h * hd + i];
          sq += v * v;
          cols[h * hd + i] += std::fabs(v);
        }
        heads[h] += std::sqrt(sq);
      }
    }
    attn_rows_[layer] += T;
  } else if (role == TensorRole::kAttnQ || role == TensorRole::kFfnGate ||
             role == TensorRole::kOutput) {
    // The normed residual stream: Q/K/V share attn_q's input, up shares ffn_gate's.
    const size_t slot = role == TensorRole::kOutput ? norm_sum_.size() - 1
                                                    : 2 * layer + (role == TensorRole::kFfnGate);
    std::vector<double>& sum = norm_sum_[slot];
    SHRINK_CHECK(C_in == static_cast<int64_t>(sum.size()));
    for (int64_t t = 0; t < T; ++t) {
      const float* row = x.data() + t * C_in;
      for (int64_t i = 0; i < C_in; ++i) sum[i] += std::fabs(row[i]);
    }
    norm_rows_[slot] += T;
  }
}

void WidthScoreCollector::OnResidual(int layer, ResidualPoint point, std::span<const float> x,
                                     int64_t T) {
  if (T <= 0 || point != ResidualPoint::kBlockInput) return;
  const int64_t C = static_cast<int64_t>(x.size()) / T;
  for (int64_t t = 0; t < T; ++t) {
    double sq = 0.0;
    for (int64_t i = 0; i < C; ++i) sq += static_cast<double>(x[t * C + i]) * x[t * C + i];
    residual_sum_[layer] += std::sqrt(sq);
  }
  residual_rows_[layer] += T;
}

WidthScores WidthScoreCollector::Scores() const {
  WidthScores s;
  auto mean = [](std::vector<double> v, int64_t rows) {
    if (rows > 0) {
      for (double& x : v) x /= static_cast<double>(rows);
    }
    return v;
  };
  for (size_t l = 0; l < ffn_sum_.size(); ++l) {
    s.ffn_channel.push_back(mean(ffn_sum_[l], ffn_rows_[l]));
    s.head.push_back(mean(head_sum_[l], attn_rows_[l]));
    s.attn_column.push_back(mean(column_sum_[l], attn_rows_[l]));
  }
  s.residual_norm.assign(residual_sum_.size(), 0.0);
  for (size_t l = 0; l < residual_sum_.size(); ++l) {
    s.residual_norm[l] = residual_rows_[l] > 0 ? residual_sum_[l] / residual_rows_[l] : 0.0;
  }
  s.hidden.assign(config_.d_model, 0.0);
  for (size_t k = 0; k < norm_sum_.size(); ++k) {
    const std::vector<double> m = mean(norm_sum_[k], norm_rows_[k]);
    for (size_t i = 0; i < m.size(); ++i) s.hidden[i] += m[i];
  }
  return s;
}

}  // namespace shrink
