// The row log-sum-exp the loss ops share (train/loss_ops.cc, train/topk_distill.cc): the values
// are scaled by 1 / tau in F32 (x[v] / tau, as every loss op divides), the sum of exponentials
// runs in F64 after subtracting the row's maximum, so no term overflows and a 256k-wide row
// loses no precision to its summation order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace shrink::train {

// log Σ_v exp(x_v / tau) of one row of V values; *max_out = max_v x_v / tau.
inline double LogSumExp(const float* x, int64_t V, float tau, float* max_out) {
  float mx = -INFINITY;
  for (int64_t v = 0; v < V; ++v) mx = std::max(mx, x[v] / tau);
  double sum = 0.0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(double{x[v] / tau} - mx);
  *max_out = mx;
  return mx + std::log(sum);
}

}  // namespace shrink::train
