#include "kernels/attention.h"

#include <cblas.h>

#include <algorithm>

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
  // S = scale * Q_h (T, hd) · K_gᵀ (hd, P)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(T), static_cast<int>(P),
              static_cast<int>(p.head_dim), p.scale, q + h * p.head_dim, static_cast<int>(q_stride),
              k + g * p.head_dim, static_cast<int>(kv_stride), 0.0f, S, static_cast<int>(P));
  for (int64_t t = 0; t < T; ++t) {
    float* row = S + t * P;
    const int64_t end = pos0 + t + 1;  // causal: keys [0, end) at most
    const int64_t begin = p.sliding_window > 0 ? std::max<int64_t>(0, end - p.sliding_window) : 0;
    Softmax(row + begin, end - begin);
    std::fill(row, row + begin, 0.0f);    // outside the window
    std::fill(row + end, row + P, 0.0f);  // future keys
  }
  // out_h (T, hd) = S (T, P) · V_g (P, hd)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(T),
              static_cast<int>(p.head_dim), static_cast<int>(P), 1.0f, S, static_cast<int>(P),
              v + g * p.head_dim, static_cast<int>(kv_stride), 0.0f, out + h * p.head_dim,
              static_cast<int>(q_stride));
}

}  // namespace

void Attention(const AttentionParams& p, int64_t T, int64_t pos0, const float* q, const float* k,
               const float* v, float* out, float* probs) {
  // Heads write disjoint rows of probs and columns of out: one head per pool task, each with a
  // single-threaded sgemm (kernel_threads.h), results independent of the thread count.
  KernelThreads().Run(p.n_heads, 1, [&](int64_t h0, int64_t h1, int) {
    for (int64_t h = h0; h < h1; ++h) AttendHead(p, T, pos0, q, k, v, out, probs, h);
  });
}

}  // namespace shrink
