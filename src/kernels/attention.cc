#include "kernels/attention.h"

#include <algorithm>

#include "base/check.h"
#include "kernels/float_gemm.h"
#include "kernels/kernel_threads.h"
#include "kernels/softmax.h"

namespace shrink {
namespace {

// Query rows per pool task of a prompt: heads alone are too few tasks to balance two threads (9
// heads: 5 against 4), and a chunk's scores (64 × P floats) stay in L2 between its three passes.
// Fixed, so results never depend on the thread count.
constexpr int64_t kQueryRowsPerTask = 64;

// Query head h, rows [t0, t1): their scores and probabilities (rows of `probs`) and their output
// columns. Each output sums the same products in the same order whatever [t0, t1) is (FloatGemm),
// so chunking changes no result.
void AttendRows(const AttentionParams& p, int64_t T, int64_t pos0, const float* q, const void* k,
                const void* v, float* out, float* probs, int64_t h, int64_t t0, int64_t t1) {
  const int64_t P = pos0 + T;  // cache rows visible to the last query (the probs' row length)
  const int64_t P_chunk = pos0 + t1;  // cache rows visible to this chunk's last query
  const int64_t q_stride = p.n_heads * p.head_dim;
  const int64_t kv_stride = p.n_kv_heads * p.head_dim;
  const int64_t g = h / (p.n_heads / p.n_kv_heads);
  const int64_t element_bytes = p.kv_type == TensorType::kF16 ? 2 : 4;
  // Head g's columns of the cache rows.
  const auto* k_head = static_cast<const uint8_t*>(k) + g * p.head_dim * element_bytes;
  const auto* v_head = static_cast<const uint8_t*>(v) + g * p.head_dim * element_bytes;
  float* S = probs + (h * T + t0) * P;  // (t1 - t0, P) scores, then probabilities
  // Keys before `first` are outside the window of every query of the chunk.
  const int64_t first =
      p.sliding_window > 0 ? std::max<int64_t>(0, pos0 + t0 + 1 - p.sliding_window) : 0;
  // S(t, j) = Q_h(t) · K_g(j) for the keys query t sees (j <= pos0 + t; the rest is not computed).
  FloatGemm(q + t0 * q_stride + h * p.head_dim, q_stride, t1 - t0, p.head_dim,
            {.type = p.kv_type,
             .layout = FloatOperand::Layout::kRowsOfN,
             .data = k_head,
             .stride = kv_stride},
            first, P_chunk, S, P, {.n_causal = pos0 + t0});
  for (int64_t t = t0; t < t1; ++t) {
    float* row = S + (t - t0) * P;
    const int64_t end = pos0 + t + 1;  // causal: keys [0, end) at most
    const int64_t begin = p.sliding_window > 0 ? std::max<int64_t>(0, end - p.sliding_window) : 0;
    for (int64_t j = begin; j < end; ++j) row[j] *= p.scale;
    Softmax(row + begin, end - begin);
    std::fill(row, row + begin, 0.0f);    // outside the window
    std::fill(row + end, row + P, 0.0f);  // future keys
  }
  // out_h(t) = Σ_j S(t, j) · V_g(j); probabilities past pos0 + t are zero and skipped.
  FloatGemm(S, P, t1 - t0, P_chunk,
            {.type = p.kv_type,
             .layout = FloatOperand::Layout::kRowsOfK,
             .data = v_head,
             .stride = kv_stride},
            0, p.head_dim, out + t0 * q_stride + h * p.head_dim, q_stride, {.k_causal = pos0 + t0});
}

}  // namespace

void Attention(const AttentionParams& p, int64_t T, int64_t pos0, const float* q, const void* k,
               const void* v, float* out, float* probs) {
  SHRINK_CHECK(p.kv_type == TensorType::kF32 || p.kv_type == TensorType::kF16);
  // Tasks (head, chunk of query rows) write disjoint rows of probs and parts of out; results are
  // independent of the thread count. The last chunks (the most keys) are claimed first, so the
  // pool ends on cheap tasks.
  const int64_t chunks = (T + kQueryRowsPerTask - 1) / kQueryRowsPerTask;
  KernelThreads().Run(p.n_heads * chunks, 1, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t h = i % p.n_heads, t0 = (chunks - 1 - i / p.n_heads) * kQueryRowsPerTask;
      AttendRows(p, T, pos0, q, k, v, out, probs, h, t0, std::min(T, t0 + kQueryRowsPerTask));
    }
  });
}

}  // namespace shrink
