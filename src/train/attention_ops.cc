// Causal grouped-query attention for training: forward and backward (contracts in train/ops.h).
//
// Work is split over the kernel thread pool by (sequence, head) in the forward op and by
// (sequence, key/value head) in the backward op: the query heads that share a key/value head all
// add into the same dk and dv rows, so they run in one task and no two tasks write the same
// gradient. Each task's arithmetic is fixed, so results do not depend on the thread count.
#include <cmath>
#include <vector>

#include "kernels/kernel_threads.h"
#include "train/ops.h"

namespace shrink::train {
namespace {

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
  KernelThreads().Run(s.B * H, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / H, h = bh % H, g = h / group;
      for (int64_t t = 0; t < T; ++t) {
        const float* qt = q + (b * T + t) * q_row + h * hd;
        float* p = probs + (bh * T + t) * T;
        const int64_t lo = FirstKey(s, t);
        float mx = -INFINITY;
        for (int64_t u = 0; u < T; ++u) {
          if (u < lo || u > t) {
            p[u] = 0.0f;
            continue;
          }
          const float* ku = k + (b * T + u) * kv_row + g * hd;
          float dot = 0.0f;
          for (int64_t i = 0; i < hd; ++i) dot += qt[i] * ku[i];
          p[u] = dot * s.scale;
          mx = std::max(mx, p[u]);
        }
        double sum = 0.0;
        for (int64_t u = lo; u <= t; ++u) {
          p[u] = std::exp(p[u] - mx);
          sum += p[u];
        }
        const float inv = static_cast<float>(1.0 / sum);
        float* o = out + (b * T + t) * q_row + h * hd;
        for (int64_t i = 0; i < hd; ++i) o[i] = 0.0f;
        for (int64_t u = lo; u <= t; ++u) {
          p[u] *= inv;
          const float* vu = v + (b * T + u) * kv_row + g * hd;
          for (int64_t i = 0; i < hd; ++i) o[i] += p[u] * vu[i];
        }
      }
    }
  });
}

void AttentionBackward(float* dq, float* dk, float* dv, const float* dout, const float* probs,
                       const float* q, const float* k, const float* v, const AttentionShape& s) {
  const int64_t T = s.T, hd = s.head_dim, H = s.n_heads, KVH = s.n_kv_heads;
  const int64_t group = H / KVH;
  const int64_t q_row = H * hd, kv_row = KVH * hd;
  KernelThreads().Run(s.B * KVH, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<float> ds(static_cast<size_t>(T));
    for (int64_t bg = begin; bg < end; ++bg) {
      const int64_t b = bg / KVH, g = bg % KVH;
      for (int64_t h = g * group; h < (g + 1) * group; ++h) {
        for (int64_t t = 0; t < T; ++t) {
          const float* p = probs + ((b * H + h) * T + t) * T;
          const float* dot = dout + (b * T + t) * q_row + h * hd;
          const int64_t lo = FirstKey(s, t);
          // out_t = Σ_u p_u v_u: dv_u += p_u dout_t and dp_u = dout_t · v_u.
          // softmax: ds_u = p_u (dp_u - Σ_w p_w dp_w).
          double pdp = 0.0;
          for (int64_t u = lo; u <= t; ++u) {
            const float* vu = v + (b * T + u) * kv_row + g * hd;
            float* dvu = dv + (b * T + u) * kv_row + g * hd;
            float dp = 0.0f;
            for (int64_t i = 0; i < hd; ++i) {
              dp += dot[i] * vu[i];
              dvu[i] += p[u] * dot[i];
            }
            ds[u] = dp;
            pdp += double{p[u]} * dp;
          }
          const float qt_scale = s.scale;
          const float* qt = q + (b * T + t) * q_row + h * hd;
          float* dqt = dq + (b * T + t) * q_row + h * hd;
          for (int64_t u = lo; u <= t; ++u) {
            // score_u = scale · q_t · k_u
            const float d = p[u] * (ds[u] - static_cast<float>(pdp)) * qt_scale;
            const float* ku = k + (b * T + u) * kv_row + g * hd;
            float* dku = dk + (b * T + u) * kv_row + g * hd;
            for (int64_t i = 0; i < hd; ++i) {
              dqt[i] += d * ku[i];
              dku[i] += d * qt[i];
            }
          }
        }
      }
    }
  });
}

}  // namespace shrink::train
