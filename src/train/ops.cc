// Row ops of training (embedding, RMSNorm, linear, RoPE, gated activation, softcap): forward and
// backward side by side. Contracts in train/ops.h.
#include "train/ops.h"

#include <cmath>
#include <vector>

#include "kernels/kernel_threads.h"
#include "train/pool_gemm.h"

namespace shrink::train {

void EmbeddingForward(float* out, const int32_t* tokens, const float* wte, int64_t N, int64_t C,
                      float scale) {
  for (int64_t n = 0; n < N; ++n) {
    const float* row = wte + int64_t{tokens[n]} * C;
    float* o = out + n * C;
    for (int64_t i = 0; i < C; ++i) o[i] = row[i] * scale;
  }
}

void EmbeddingBackward(float* dwte, const float* dout, const int32_t* tokens, int64_t N, int64_t C,
                       float scale) {
  // Sequential over n: two positions with the same token add into the same row.
  for (int64_t n = 0; n < N; ++n) {
    float* row = dwte + int64_t{tokens[n]} * C;
    const float* d = dout + n * C;
    for (int64_t i = 0; i < C; ++i) row[i] += d[i] * scale;
  }
}

void RmsNormForward(float* out, float* rstd, const float* x, const float* w, int64_t N, int64_t C,
                    float eps) {
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * C;
    double ss = 0.0;
    for (int64_t i = 0; i < C; ++i) ss += double{xr[i]} * xr[i];
    const float r = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(C) + eps));
    rstd[n] = r;
    float* o = out + n * C;
    for (int64_t i = 0; i < C; ++i) o[i] = xr[i] * r * w[i];
  }
}

void RmsNormBackward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                     const float* rstd, int64_t N, int64_t C) {
  // y_i = x_i r w_i with r = (mean(x²) + eps)^(-1/2), so dr/dx_j = -r³ x_j / C and
  //   dx_j = r w_j dy_j - (r³ / C) x_j Σ_i dy_i w_i x_i.
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * C;
    const float* d = dout + n * C;
    const float r = rstd[n];
    double dot = 0.0;
    for (int64_t i = 0; i < C; ++i) dot += double{d[i]} * w[i] * xr[i];
    const float k = static_cast<float>(dot * r * r * r / static_cast<double>(C));
    float* dxr = dx + n * C;
    for (int64_t i = 0; i < C; ++i) {
      dxr[i] += r * w[i] * d[i] - k * xr[i];
      dw[i] += d[i] * xr[i] * r;
    }
  }
}

void LinearForward(float* out, const float* x, const float* W, int64_t N, int64_t C, int64_t OC) {
  // out (N, OC) = x (N, C) · Wᵀ (C, OC)
  PoolSgemm(false, true, N, OC, C, 1.0f, x, C, W, C, 0.0f, out, OC);
}

void LinearBackward(float* dx, float* dW, const float* dout, const float* x, const float* W,
                    int64_t N, int64_t C, int64_t OC) {
  // dx (N, C) += dout (N, OC) · W (OC, C)
  PoolSgemm(false, false, N, C, OC, 1.0f, dout, OC, W, C, 1.0f, dx, C);
  // dW (OC, C) += doutᵀ (OC, N) · x (N, C)
  PoolSgemm(true, false, OC, C, N, 1.0f, dout, OC, x, C, 1.0f, dW, C);
}

namespace {

// Rotates every head of every row by +angle (sign 1) or -angle (sign -1). The angle of pair j at
// position p is p · position_scale · base^(-2j / rope_dims), computed in F64 so that the forward
// and backward rotations are exact inverses up to F32 rounding of cos and sin.
void Rotate(float* out, const float* x, const int32_t* positions, int64_t N, const RopeParams& p,
            float sign) {
  const int64_t half = p.rope_dims / 2, hd = p.head_dim;
  std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
  for (int64_t n = 0; n < N; ++n) {
    const double pos = static_cast<double>(positions[n]) * p.position_scale;
    for (int64_t j = 0; j < half; ++j) {
      const double theta =
          pos * std::pow(static_cast<double>(p.base),
                         -2.0 * static_cast<double>(j) / static_cast<double>(p.rope_dims));
      cs[j] = static_cast<float>(std::cos(theta));
      sn[j] = sign * static_cast<float>(std::sin(theta));
    }
    for (int64_t h = 0; h < p.n_heads; ++h) {
      const float* xi = x + (n * p.n_heads + h) * hd;
      float* o = out + (n * p.n_heads + h) * hd;
      for (int64_t j = 0; j < half; ++j) {
        const int64_t a = p.ordering == RopeOrdering::kAdjacentPairs ? 2 * j : j;
        const int64_t b = p.ordering == RopeOrdering::kAdjacentPairs ? 2 * j + 1 : j + half;
        const float xa = xi[a], xb = xi[b];
        o[a] = xa * cs[j] - xb * sn[j];
        o[b] = xa * sn[j] + xb * cs[j];
      }
      for (int64_t i = p.rope_dims; i < hd; ++i) o[i] = xi[i];
    }
  }
}

}  // namespace

void RopeForward(float* out, const float* x, const int32_t* positions, int64_t N,
                 const RopeParams& p) {
  Rotate(out, x, positions, N, p, 1.0f);
}

void RopeBackward(float* dx, const float* dout, const int32_t* positions, int64_t N,
                  const RopeParams& p) {
  // dx += Rᵀ dout: rotate dout back, then accumulate.
  std::vector<float> back(static_cast<size_t>(N * p.n_heads * p.head_dim));
  Rotate(back.data(), dout, positions, N, p, -1.0f);
  for (size_t i = 0; i < back.size(); ++i) dx[i] += back[i];
}

namespace {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

// act(g) and act'(g).
inline void Activate(Activation act, float g, float* value, float* slope) {
  if (act == Activation::kSilu) {
    const float s = 1.0f / (1.0f + std::exp(-g));
    *value = g * s;
    *slope = s * (1.0f + g * (1.0f - s));
  } else {
    const float u = kSqrt2OverPi * (g + kGeluCubic * g * g * g);
    const float th = std::tanh(u);
    *value = 0.5f * g * (1.0f + th);
    const float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * g * g);
    *slope = 0.5f * (1.0f + th) + 0.5f * g * (1.0f - th * th) * du;
  }
}

}  // namespace

// Elements per parallel chunk of the gated activation: each element costs an exp or tanh, so
// a chunk this size is tens of microseconds, well above the pool's hand-off cost. Elementwise,
// so the split changes no value.
constexpr int64_t kGluGrain = 1 << 14;

void GluForward(float* out, const float* gate, const float* up, int64_t n, Activation act) {
  KernelThreads().Run(n, kGluGrain, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      float a, slope;
      Activate(act, gate[i], &a, &slope);
      out[i] = a * up[i];
    }
  });
}

void GluBackward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                 int64_t n, Activation act) {
  KernelThreads().Run(n, kGluGrain, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      float a, slope;
      Activate(act, gate[i], &a, &slope);
      dgate[i] += dout[i] * up[i] * slope;
      dup[i] += dout[i] * a;
    }
  });
}

void SoftcapForward(float* out, const float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) out[i] = cap * std::tanh(x[i] / cap);
}

void SoftcapBackward(float* dx, const float* dout, const float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) {
    const float t = std::tanh(x[i] / cap);
    dx[i] = dout[i] * (1.0f - t * t);
  }
}

}  // namespace shrink::train
