#include "kernels/rope.h"

#include <cmath>
#include <vector>

#include "kernels/kernel_threads.h"

namespace shrink {
namespace {

// Positions [t0, t1) of the batch.
void RopeRows(const RopeParams& p, int64_t t0, int64_t t1, int64_t pos0, float* x) {
  const int64_t half = p.rope_dims / 2;
  const float theta_scale = std::pow(p.base, -2.0f / static_cast<float>(p.rope_dims));
  std::vector<float> cos_t(half), sin_t(half);
  const int64_t pair_stride = p.ordering == RopeOrdering::kAdjacentPairs ? 1 : 0;
  for (int64_t t = t0; t < t1; ++t) {
    // One table of angles per position, shared by every head (as ggml's rope cache).
    float theta = static_cast<float>(pos0 + t);
    for (int64_t j = 0; j < half; ++j) {
      const float angle = p.position_scale * theta;
      cos_t[j] = std::cos(angle);
      sin_t[j] = std::sin(angle);
      theta *= theta_scale;
    }
    float* row = x + t * p.n_heads * p.head_dim;
    for (int64_t h = 0; h < p.n_heads; ++h) {
      float* v = row + h * p.head_dim;
      for (int64_t j = 0; j < half; ++j) {
        // Adjacent: (2j, 2j+1); halves: (j, j+half).
        const int64_t i0 = pair_stride ? 2 * j : j;
        const int64_t i1 = pair_stride ? 2 * j + 1 : j + half;
        const float a = v[i0], b = v[i1];
        v[i0] = a * cos_t[j] - b * sin_t[j];
        v[i1] = a * sin_t[j] + b * cos_t[j];
      }
    }
  }
}

}  // namespace

void Rope(const RopeParams& p, int64_t T, int64_t pos0, float* x) {
  // Positions are independent (each builds its own angles): split them over the kernel pool.
  KernelThreads().Run(T, 16, [&](int64_t t0, int64_t t1, int) { RopeRows(p, t0, t1, pos0, x); });
}

}  // namespace shrink
