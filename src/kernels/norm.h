// RMSNorm: y = x / sqrt(mean(x²) + eps) * w, row by row.
#pragma once

#include <cstdint>

namespace shrink {

// x: (T, C), w: (C) -> y: (T, C). `y` may alias `x`. The sum of squares accumulates in F64 (as
// ggml's rms_norm does); the scale 1/sqrt(mean + eps) is formed in F32.
void RmsNorm(const float* x, const float* w, int64_t T, int64_t C, float eps, float* y);

}  // namespace shrink
