// Rotary position embedding (RoPE), applied in place to queries or keys.
//
// For a head vector x (head_dim wide) at position p, pair j (0 <= j < rope_dims/2) is rotated by
//   theta_j = p * position_scale * base^(-2j / rope_dims)
// (position_scale = 1 / factor for linear RoPE scaling, ggml's freq_scale; 1 without scaling)
// Which two elements form pair j depends on the ordering:
//   kAdjacentPairs (ggml "norm"; llama GGUF, llama2.c): (x[2j], x[2j+1])
//   kHalves        (ggml "neox"):                      (x[j], x[j + rope_dims/2])
// (a, b) -> (a cos - b sin, a sin + b cos). Dimensions at or past rope_dims pass through unchanged.
#pragma once

#include <cstdint>

namespace shrink {

enum class RopeOrdering {
  kAdjacentPairs,  // ggml "norm"
  kHalves,         // ggml "neox"
};

struct RopeParams {
  int64_t n_heads = 0;
  int64_t head_dim = 0;
  int64_t rope_dims = 0;  // even, <= head_dim
  float base = 10000.0f;
  float position_scale = 1.0f;
  RopeOrdering ordering = RopeOrdering::kAdjacentPairs;
};

// x: (T, n_heads, head_dim), row t at position pos0 + t; rotated in place, positions split over
// the kernel thread pool (each builds its own angles: results do not depend on the split).
// Angles are computed as ggml does (theta_{j+1} = theta_j * base^(-2/rope_dims) in F32, each
// multiplied by position_scale, then cosf/sinf), so rotations match llama.cpp's to the last bits.
void Rope(const RopeParams& params, int64_t T, int64_t pos0, float* x);

}  // namespace shrink
