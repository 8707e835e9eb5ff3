#include "kernels/norm.h"

#include <cmath>

namespace shrink {

void RmsNorm(const float* x, const float* w, int64_t T, int64_t C, float eps, float* y) {
  for (int64_t t = 0; t < T; ++t) {
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

}  // namespace shrink
