// Causal grouped-query attention for training: forward and backward (contracts in train/ops.h).
//
// Work is split over the kernel thread pool by (sequence, head) in the forward op and by
// (sequence, key/value head) in the backward op: the query heads that share a key/value head all
// add into the same dk and dv rows, so they run in one task and no two tasks write the same
// gradient. Each task's arithmetic is fixed, so results do not depend on the thread count.
//
// Inside a task the products are single-threaded OpenBLAS sgemms over one head's (T, head_dim)
// slices, whose rows are strided by the full q/kv row: scores S = scale · Q Kᵀ, out = P V, and
// backward dP = dout Vᵀ, dV += Pᵀ dout, dQ += dS K, dK += dSᵀ Q. The causal mask makes P lower
// triangular, so the query rows go in blocks of kRowBlock and each block's products stop at its
// last key (about half the work of full T × T products). A scalar head_dim loop per (t, u) pair,
// which is what this replaced, cannot use the CPU's vector units in a portable build.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/blas_threads.h"
#include "kernels/kernel_threads.h"
#include "train/ops.h"
#include "train/pool_gemm.h"

namespace shrink::train {
namespace {

// Query rows per causal block: small enough that the skipped upper triangle is most of the
// waste, large enough that each sgemm is long enough to run at full speed.
constexpr int64_t kRowBlock = 64;

// First key position query t may attend to.
inline int64_t FirstKey(const AttentionShape& s, int64_t t) {
  return s.sliding_window > 0 && t >= s.sliding_window ? t - s.sliding_window + 1 : 0;
}

}  // namespace

void AttentionForward(float* out, float* probs, const float* q, const float* k, const float* v,
                      const AttentionShape& s) {
  const int64_t T = s.T, hd = s.head_dim, H = s.n_heads;
  const int64_t group = s.n_heads / s.n_kv_heads;
  const int64_t q_row = H * hd, kv_row = s.n_kv_heads * hd;
  ScopedBlasThreads one_blas_thread(1);  // the pool owns the parallelism here
  KernelThreads().Run(s.B * H, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H, g = h / group;
      const float* qh = q + b * T * q_row + h * hd;
      const float* kh = k + b * T * kv_row + g * hd;
      const float* vh = v + b * T * kv_row + g * hd;
      float* oh = out + b * T * q_row + h * hd;
      float* ph = probs + bh * T * T;
      for (int64_t t0 = 0; t0 < T; t0 += kRowBlock) {
        const int64_t rows = std::min(kRowBlock, T - t0), keys = t0 + rows;
        float* pb = ph + t0 * T;
        // Scores of rows t0..t0+rows-1 against keys 0..keys-1.
        Sgemm(false, true, rows, keys, hd, s.scale, qh + t0 * q_row, q_row, kh, kv_row, 0.0f, pb,
              T);
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t t = t0 + r, lo = FirstKey(s, t);
          float* p = pb + r * T;
          float mx = -INFINITY;
          for (int64_t u = lo; u <= t; ++u) mx = std::max(mx, p[u]);
          double sum = 0.0;
          for (int64_t u = lo; u <= t; ++u) {
            p[u] = std::exp(p[u] - mx);
            sum += p[u];
          }
          const float inv = static_cast<float>(1.0 / sum);
          for (int64_t u = 0; u < lo; ++u) p[u] = 0.0f;
          for (int64_t u = lo; u <= t; ++u) p[u] *= inv;
          for (int64_t u = t + 1; u < T; ++u) p[u] = 0.0f;
        }
        Sgemm(false, false, rows, hd, keys, 1.0f, pb, T, vh, kv_row, 0.0f, oh + t0 * q_row, q_row);
      }
    }
  });
}

void AttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* probs,
                       const float* q, const float* k, const float* v, const AttentionShape& s) {
  const int64_t T = s.T, hd = s.head_dim, H = s.n_heads, KVH = s.n_kv_heads;
  const int64_t group = H / KVH;
  const int64_t q_row = H * hd, kv_row = KVH * hd;
  ScopedBlasThreads one_blas_thread(1);
  KernelThreads().Run(s.B * KVH, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<float> ds_buf(static_cast<size_t>(T * T));
    float* ds = ds_buf.data();
    for (int64_t bg = begin; bg < end; ++bg) {
      const int64_t b = bg / KVH, g = bg % KVH;
      const float* kg = k + b * T * kv_row + g * hd;
      const float* vg = v + b * T * kv_row + g * hd;
      float* dkg = dk + b * T * kv_row + g * hd;
      float* dvg = dv + b * T * kv_row + g * hd;
      for (int64_t h = g * group; h < (g + 1) * group; ++h) {
        const float* ph = probs + (b * H + h) * T * T;
        const float* doh = dout + b * T * q_row + h * hd;
        const float* qh = q + b * T * q_row + h * hd;
        float* dqh = dq + b * T * q_row + h * hd;
        for (int64_t t0 = 0; t0 < T; t0 += kRowBlock) {
          const int64_t rows = std::min(kRowBlock, T - t0), keys = t0 + rows;
          const float* pb = ph + t0 * T;
          float* db = ds + t0 * T;
          // out_t = Σ_u p_u v_u: dp_u = dout_t · v_u, and dv_u += p_u dout_t (below).
          Sgemm(false, true, rows, keys, hd, 1.0f, doh + t0 * q_row, q_row, vg, kv_row, 0.0f, db,
                T);
          // softmax: ds_u = p_u (dp_u - Σ_w p_w dp_w); score_u = scale · q_t · k_u.
          for (int64_t r = 0; r < rows; ++r) {
            const float* p = pb + r * T;
            float* d = db + r * T;
            double pdp = 0.0;
            for (int64_t u = 0; u < keys; ++u) pdp += double{p[u]} * d[u];
            const float c = static_cast<float>(pdp);
            for (int64_t u = 0; u < keys; ++u) d[u] = p[u] * (d[u] - c) * s.scale;
          }
          // dq rows of this block: dS (rows, keys) · K (keys, hd).
          Sgemm(false, false, rows, hd, keys, 1.0f, db, T, kg, kv_row, 1.0f, dqh + t0 * q_row,
                q_row);
        }
        // dV (T, hd) += Pᵀ (T, T) · dout (T, hd) and dK += dSᵀ · Q, by blocks of key rows: keys
        // u0..u0+rows-1 receive from queries t >= u0 only (P and dS are lower triangular).
        for (int64_t u0 = 0; u0 < T; u0 += kRowBlock) {
          const int64_t keys = std::min(kRowBlock, T - u0), queries = T - u0;
          Sgemm(true, false, keys, hd, queries, 1.0f, ph + u0 * T + u0, T, doh + u0 * q_row, q_row,
                1.0f, dvg + u0 * kv_row, kv_row);
          Sgemm(true, false, keys, hd, queries, 1.0f, ds + u0 * T + u0, T, qh + u0 * q_row, q_row,
                1.0f, dkg + u0 * kv_row, kv_row);
        }
      }
    }
  });
}

}  // namespace shrink::train
