// Causal multi-head attention with grouped-query heads over a KV cache.
//
// For query head h (kv head g = h / (n_heads / n_kv_heads)) and query row t at position p = pos0 + t:
//   s_j = (q_t,h · k_j,g) * scale     for cache rows j in [lo, p]   (causal)
//   lo = 0, or p - sliding_window + 1 with a sliding window (Gemma-3's local layers; llama.cpp's
//   "standard" SWA masks key j when p - j >= window)
//   p = softmax(s);   out_t,h = sum_j p_j v_j,g
// scale is 1/sqrt(head_dim) in Llama models.
#pragma once

#include <cstdint>
#include <vector>

#include "formats/types.h"

namespace shrink {

struct AttentionParams {
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // divides n_heads
  int64_t head_dim = 0;
  float scale = 1.0f;
  int64_t sliding_window = 0;  // > 0: keys older than this many positions are masked; 0: none
  // The cache's element type: kF32 (k, v are float) or kF16 (uint16_t F16 bits, converted exactly
  // to F32 inside the products: the same results as an F32 cache holding the F16-rounded values).
  TensorType kv_type = TensorType::kF32;
};

// q: (T, n_heads, head_dim) for positions [pos0, pos0 + T).
// k, v: (pos0 + T, n_kv_heads, head_dim) of params.kv_type: the cache rows for every position so
// far, this batch included. out: (T, n_heads, head_dim).
// probs: (n_heads, T, pos0 + T): receives every head's attention probabilities (0 for masked keys),
// kept for observers and a backward pass.
// Scores and weighted sums are FloatGemm products (float_gemm.h: our SIMD kernels, F32
// accumulation, only the keys a query sees), (head, 64 query rows) tasks split over the kernel
// thread pool (kernel_threads.h); softmax as kernels/softmax.h.
void Attention(const AttentionParams& params, int64_t T, int64_t pos0, const float* q,
               const void* k, const void* v, float* out, float* probs);

}  // namespace shrink
