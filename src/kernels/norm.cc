#include "kernels/norm.h"

#include <algorithm>
#include <cmath>

#include "kernels/kernel_threads.h"

namespace shrink {
namespace {

void RmsNormRows(const float* x, const float* w, int64_t t0, int64_t t1, int64_t C, float eps,
                 float* y) {
  for (int64_t t = t0; t < t1; ++t) {
    const float* xr = x + t * C;
    float* yr = y + t * C;
    double sum = 0.0;
    for (int64_t i = 0; i < C; ++i) sum += static_cast<double>(xr[i] * xr[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(C));
    const float scale = 1.0f / std::sqrt(mean + eps);
    // ggml scales first, then multiplies by the weight in a separate op: keep that rounding order.
    for (int64_t i = 0; i < C; ++i) yr[i] = (xr[i] * scale) * w[i];
  }
}

}  // namespace

void RmsNorm(const float* x, const float* w, int64_t T, int64_t C, float eps, float* y) {
  // Rows are independent: split them over the kernel pool (one chunk for a single token).
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1));
  KernelThreads().Run(T, grain,
                      [&](int64_t t0, int64_t t1, int) { RmsNormRows(x, w, t0, t1, C, eps, y); });
}

}  // namespace shrink
