// A synthetic linear layer with inputs like a transformer linear's, for the tests of the methods
// that use the inputs' Hessian (GPTQ in quant/, SparseGPT in prune/): neighbouring input channels
// strongly correlated (AR(1), ρ = 0.9) with per-channel scales spread over a factor ~10 (a few
// "outlier" channels, which is where Wanda beats magnitude); weights Gaussian. The correlation is
// what both methods exploit: a column's rounding or pruning error is partly rebuilt by its correlated
// neighbours.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "calib/gram.h"
#include "calib/hessian.h"

namespace shrink {

struct CorrelatedLayer {
  int64_t in = 0, out = 0, rows = 0;
  std::vector<float> W;     // (out, in)
  std::vector<float> X;     // (rows, in)
  std::vector<double> H;    // (in, in) = 2·XᵀX / rows (GptqHessian)
  std::vector<float> norm;  // ‖X_j‖₂ per input column (Wanda's scale)
};

// The layer drawn from mt19937(seed): the channel scales exp(0.8·N(0,1)), then X row by row, then
// W = 0.05·N(0,1); H and the column norms from XᵀX.
inline CorrelatedLayer MakeCorrelatedLayer(int64_t in, int64_t out, int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  CorrelatedLayer l;
  l.in = in;
  l.out = out;
  l.rows = rows;
  std::vector<float> scale(in);
  for (int64_t i = 0; i < in; ++i) scale[i] = std::exp(0.8f * normal(rng));
  l.X.resize(rows * in);
  for (int64_t t = 0; t < rows; ++t) {
    float prev = 0;
    for (int64_t i = 0; i < in; ++i) {
      prev = 0.9f * prev + std::sqrt(1 - 0.81f) * normal(rng);
      l.X[t * in + i] = scale[i] * prev;
    }
  }
  l.W.resize(out * in);
  for (float& w : l.W) w = 0.05f * normal(rng);
  GramEntry g{.cols = in, .xtx = std::vector<double>(in * in, 0.0), .rows = rows};
  AccumulateGram(l.X, rows, in, g.xtx);
  l.H = GptqHessian(g);
  l.norm.resize(in);
  for (int64_t i = 0; i < in; ++i) l.norm[i] = static_cast<float>(std::sqrt(g.xtx[i * in + i]));
  return l;
}

// Σ_t ‖(W − Ŵ)·x_t‖² over the layer's inputs, in F64.
// REQUIRES: W_hat.size() == l.out · l.in.
inline double LayerOutputError(const CorrelatedLayer& l, std::span<const float> W_hat) {
  double sum = 0;
  for (int64_t t = 0; t < l.rows; ++t) {
    for (int64_t o = 0; o < l.out; ++o) {
      double y = 0;
      for (int64_t i = 0; i < l.in; ++i) {
        y += static_cast<double>(l.W[o * l.in + i] - W_hat[o * l.in + i]) * l.X[t * l.in + i];
      }
      sum += y * y;
    }
  }
  return sum;
}

}  // namespace shrink
