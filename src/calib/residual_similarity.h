// ResidualSimilarityCollector: how much each block changes the residual stream, for depth pruning.
//
// For every layer l and every token row t of every batch the forward shows it, with x_in the
// residual stream entering the block and x_out the stream leaving it (both (T, C)), it accumulates
//
//   cos_l = Σ_t  x_in[t]·x_out[t] / (‖x_in[t]‖·‖x_out[t]‖)       and      rows_l = Σ T
//
// in F64. A block whose output points where its input did (cosine near 1) adds little to the
// stream; its "block influence" (ShortGPT, Men et al. 2024) is 1 − mean cosine, and the blocks with
// the smallest influence are the first candidates to drop. A row where either norm is 0 counts as
// cosine 1 (the block left a zero stream zero, or it is the embedding of nothing).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "model/transformer.h"

namespace shrink {

class ResidualSimilarityCollector : public ForwardObserver {
 public:
  void OnResidual(int layer, ResidualPoint point, std::span<const float> x, int64_t T) override;

  // Layers seen so far: one past the highest layer index observed.
  int layers() const { return static_cast<int>(rows_.size()); }
  // Rows of residual stream seen leaving `layer`. REQUIRES: layer < layers().
  int64_t rows(int layer) const { return rows_[layer]; }
  // 1 − the mean cosine of `layer` (0 when it saw no rows). REQUIRES: layer < layers().
  double BlockInfluence(int layer) const;

 private:
  std::vector<float> input_;  // (T, C): the stream entering the layer being run
  int input_layer_ = -1;
  std::vector<double> cos_sum_;
  std::vector<int64_t> rows_;
};

// A ForwardObserver that passes every call on to each of `observers` in order (a session holds
// one observer; calibration may collect several statistics in one pass). Not owned.
class ObserverFanout : public ForwardObserver {
 public:
  explicit ObserverFanout(std::vector<ForwardObserver*> observers)
      : observers_(std::move(observers)) {}
  void OnLinearInput(int layer, TensorRole role, std::span<const float> x, int64_t T) override {
    for (ForwardObserver* o : observers_) o->OnLinearInput(layer, role, x, T);
  }
  void OnResidual(int layer, ResidualPoint point, std::span<const float> x, int64_t T) override {
    for (ForwardObserver* o : observers_) o->OnResidual(layer, point, x, T);
  }

 private:
  std::vector<ForwardObserver*> observers_;
};

}  // namespace shrink
