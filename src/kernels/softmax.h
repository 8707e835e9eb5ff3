// Softmax over one row, in place: x_i <- exp(x_i - max) / sum_j exp(x_j - max).
#pragma once

#include <cstdint>

namespace shrink {

// x: (n), n >= 1. Exponentials in F32, their sum accumulated in F64 (as ggml's soft_max), then one
// F32 reciprocal multiplies every element. Entries equal to -inf become exactly 0.
void Softmax(float* x, int64_t n);

}  // namespace shrink
