// Width importance from calibration activations (NVIDIA Minitron's activation-based scores).
//
// WidthScoreCollector is a ForwardObserver: attached to an InferenceSession that runs calibration
// text, it accumulates per layer
//   * FFN channel j:  Σ_t |h[t][j]|      h = act(gate) · up, the input of ffn_down (T, F);
//   * query head h:   Σ_t ‖a[t][h]‖₂     a = the attention output entering attn_output (T, Q), head
//                     h its columns [h·head_dim, (h+1)·head_dim);
//   * attention column i: Σ_t |a[t][i]|  (for the weight-aware scores of the per-layer budget);
//   * hidden dimension i: Σ_t |n[t][i]|  n = every RMSNorm output of the residual stream that feeds a
//                     linear (attn_q's input, ffn_gate's input, the output projection's input),
//                     summed over layers as Minitron sums its LayerNorm outputs;
//   * residual norm:  Σ_t ‖x[t]‖₂ of the residual stream entering each block (what a unit's
//                     contribution is measured against when layers compete for a budget);
// and the rows seen. Means are the sums / rows. Not thread-safe (one session at a time).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/config.h"
#include "model/transformer.h"

namespace shrink {

// Mean scores of one model's width units (all ≥ 0). Sizes follow the SOURCE config.
struct WidthScores {
  std::vector<std::vector<double>> ffn_channel;  // [layer][F_l]   mean |h_j|
  std::vector<std::vector<double>> head;         // [layer][H_l]   mean ‖a_h‖₂
  std::vector<std::vector<double>> attn_column;  // [layer][Q_l]   mean |a_i|
  std::vector<double> hidden;                    // [C]            Σ over norms of mean |n_i|
  std::vector<double> residual_norm;  // [layer]        mean ‖x‖₂ entering the block
};

class WidthScoreCollector : public ForwardObserver {
 public:
  explicit WidthScoreCollector(const Config& config);

  void OnLinearInput(int layer, TensorRole role, std::span<const float> x, int64_t T) override;
  void OnResidual(int layer, ResidualPoint point, std::span<const float> x, int64_t T) override;

  // The means over every row seen so far (zeros where nothing was seen).
  WidthScores Scores() const;

 private:
  Config config_;
  std::vector<std::vector<double>> ffn_sum_, head_sum_, column_sum_;
  std::vector<int64_t> ffn_rows_, attn_rows_, residual_rows_;
  std::vector<double> residual_sum_;
  std::vector<double> hidden_sum_;
  // Rows seen per norm output (attn_q and ffn_gate per layer, and the output projection): each
  // norm's sum is divided by its own rows before the norms are summed.
  std::vector<std::vector<double>> norm_sum_;
  std::vector<int64_t> norm_rows_;
};

}  // namespace shrink
