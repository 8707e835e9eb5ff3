#include "kernels/attention.h"

#include <algorithm>

#include "kernels/float_gemm.h"
#include "kernels/kernel_threads.h"
#include "kernels/softmax.h"

namespace shrink {
namespace {

// Query head h: its scores and probabilities (rows of `probs`) and its output columns.
void AttendHead(const AttentionParams& p, int64_t T, int64_t pos0, const float* q, const float* k,
                const float* v, float* out, float* probs, int64_t h) {
  const int64_t P = pos0 + T;  // cache rows visible to the last query
  const int64_t q_stride = p.n_heads * p.head_dim;
  const int64_t kv_stride = p.n_kv_heads * p.head_dim;
  const int64_t g = h / (p.n_heads / p.n_kv_heads);
  float* S = probs + h * T * P;  // (T, P) scores, then probabilities
  // Keys before `first` are outside every query's window.
  const int64_t first =
      p.sliding_window > 0 ? std::max<int64_t>(0, pos0 + 1 - p.sliding_window) : 0;
  // S(t, j) = Q_h(t) · K_g(j) for the keys query t sees (j <= pos0 + t; the rest is not computed).
  FloatGemm(q + h * p.head_dim, q_stride, T, p.head_dim,
            {.type = TensorType::kF32,
             .layout = FloatOperand::Layout::kRowsOfN,
             .data = k + g * p.head_dim,
             .stride = kv_stride},
            first, P, S, P, {.n_causal = pos0});
  for (int64_t t = 0; t < T; ++t) {
    float* row = S + t * P;
    const int64_t end = pos0 + t + 1;  // causal: keys [0, end) at most
    const int64_t begin = p.sliding_window > 0 ? std::max<int64_t>(0, end - p.sliding_window) : 0;
    for (int64_t j = begin; j < end; ++j) row[j] *= p.scale;
    Softmax(row + begin, end - begin);
    std::fill(row, row + begin, 0.0f);    // outside the window
    std::fill(row + end, row + P, 0.0f);  // future keys
  }
  // out_h(t) = Σ_j S(t, j) · V_g(j); probabilities past pos0 + t are zero and skipped.
  FloatGemm(S, P, T, P,
            {.type = TensorType::kF32,
             .layout = FloatOperand::Layout::kRowsOfK,
             .data = v + g * p.head_dim,
             .stride = kv_stride},
            0, p.head_dim, out + h * p.head_dim, q_stride, {.k_causal = pos0});
}

}  // namespace

void Attention(const AttentionParams& p, int64_t T, int64_t pos0, const float* q, const float* k,
               const float* v, float* out, float* probs) {
  // Heads write disjoint rows of probs and columns of out: one head per pool task, results
  // independent of the thread count.
  KernelThreads().Run(p.n_heads, 1, [&](int64_t h0, int64_t h1, int) {
    for (int64_t h = h0; h < h1; ++h) AttendHead(p, T, pos0, q, k, v, out, probs, h);
  });
}

}  // namespace shrink
