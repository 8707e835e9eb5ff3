#include "kernels/reference.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "base/check.h"
#include "formats/float_types.h"
#include "kernels/weight_units.h"

namespace shrink::reference {

void RmsNorm(const float* x, const float* w, int64_t T, int64_t C, float eps, float* y) {
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0.0;
    for (int64_t i = 0; i < C; ++i) ss += static_cast<double>(x[t * C + i]) * x[t * C + i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(C) + eps);
    for (int64_t i = 0; i < C; ++i) y[t * C + i] = static_cast<float>(x[t * C + i] * inv * w[i]);
  }
}

void Rope(const RopeParams& p, int64_t T, int64_t pos0, float* x) {
  const int64_t half = p.rope_dims / 2;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < p.n_heads; ++h) {
      float* v = x + (t * p.n_heads + h) * p.head_dim;
      for (int64_t j = 0; j < half; ++j) {
        const double theta = static_cast<double>(pos0 + t) * p.position_scale *
                             std::pow(static_cast<double>(p.base), -2.0 * j / p.rope_dims);
        const int64_t i0 = p.ordering == RopeOrdering::kAdjacentPairs ? 2 * j : j;
        const int64_t i1 = p.ordering == RopeOrdering::kAdjacentPairs ? 2 * j + 1 : j + half;
        const double a = v[i0], b = v[i1];
        v[i0] = static_cast<float>(a * std::cos(theta) - b * std::sin(theta));
        v[i1] = static_cast<float>(a * std::sin(theta) + b * std::cos(theta));
      }
    }
  }
}

void Softmax(float* x, int64_t n) {
  double max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::max<double>(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - max);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(std::exp(x[i] - max) / sum);
}

void Attention(const AttentionParams& p, int64_t T, int64_t pos0, const float* q, const float* k,
               const float* v, float* out) {
  const int64_t hd = p.head_dim;
  const int64_t group = p.n_heads / p.n_kv_heads;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t pos = pos0 + t;
    for (int64_t h = 0; h < p.n_heads; ++h) {
      const int64_t g = h / group;
      const float* qv = q + (t * p.n_heads + h) * hd;
      // Key j is visible when j <= pos and, with a sliding window, pos - j < window.
      auto visible = [&](int64_t j) { return p.sliding_window <= 0 || pos - j < p.sliding_window; };
      std::vector<double> s(pos + 1, 0.0);
      double max = -INFINITY;
      for (int64_t j = 0; j <= pos; ++j) {
        if (!visible(j)) continue;
        const float* kv = k + (j * p.n_kv_heads + g) * hd;
        double dot = 0.0;
        for (int64_t i = 0; i < hd; ++i) dot += static_cast<double>(qv[i]) * kv[i];
        s[j] = dot * p.scale;
        max = std::max(max, s[j]);
      }
      double sum = 0.0;
      for (int64_t j = 0; j <= pos; ++j) sum += (s[j] = visible(j) ? std::exp(s[j] - max) : 0.0);
      for (int64_t i = 0; i < hd; ++i) {
        double acc = 0.0;
        for (int64_t j = 0; j <= pos; ++j) acc += s[j] / sum * v[(j * p.n_kv_heads + g) * hd + i];
        out[(t * p.n_heads + h) * hd + i] = static_cast<float>(acc);
      }
    }
  }
}

void SwiGlu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void GeluTanhGlu(const float* gate, const float* up, int64_t n, float* out) {
  const double k = std::sqrt(2.0 / M_PI);
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] =
        static_cast<float>(0.5 * g * (1.0 + std::tanh(k * (g + 0.044715 * g * g * g))) * up[i]);
  }
}

void MatMul(const MatrixRef& w, const float* x, int64_t T, float* y) {
  const int64_t row_bytes = RowBytes(w.type, w.cols).value();
  std::vector<float> row(w.cols);
  for (int64_t r = 0; r < w.rows; ++r) {
    Traits(w.type).decode(w.data.data() + r * row_bytes, row.data(), w.cols);
    for (int64_t t = 0; t < T; ++t) {
      double acc = 0.0;
      for (int64_t i = 0; i < w.cols; ++i) acc += static_cast<double>(row[i]) * x[t * w.cols + i];
      y[t * w.rows + r] = static_cast<float>(acc);
    }
  }
}

void QuantizeActivations(const float* x, int64_t n, ActBlock* out) {
  for (int64_t b = 0; b < n / kActBlockElements; ++b) {
    const float* xb = x + b * kActBlockElements;
    float m = 0.0f;
    bool finite = true;
    for (int i = 0; i < kActBlockElements; ++i) {
      m = std::max(m, std::fabs(xb[i]));
      finite = finite && std::isfinite(xb[i]);
    }
    if (!finite) {
      SetNonFiniteActBlock(out[b]);
      continue;
    }
    // 127 / m, not 1 / d: the same two roundings as the SIMD quantizer, so both agree bit for bit.
    const float inv = m != 0.0f ? 127.0f / m : 0.0f;
    ActBlock& o = out[b];
    o.d = m / 127.0f;
    int sums[2] = {0, 0};
    for (int i = 0; i < kActBlockElements; ++i) {
      const int q = static_cast<int>(std::nearbyint(xb[i] * inv));  // ties to even
      o.q[i] = static_cast<int8_t>(q);
      sums[i / 16] += q;
    }
    o.ds = o.d * static_cast<float>(sums[0] + sums[1]);
    o.ds_half[0] = o.d * static_cast<float>(sums[0]);
    o.ds_half[1] = o.d * static_cast<float>(sums[1]);
    o.qsum = sums[0] + sums[1];
  }
}

void QuantizedMatMulRows(const MatrixRef& w, const ActBlock* xq, int64_t T, int64_t r0, int64_t r1,
                         float* y) {
  const bool known = VisitUnits(w.type, [&](auto units) {
    using U = decltype(units);
    const int64_t n_blocks = w.cols / (kUnitElements * U::kUnits);
    const auto* rows = reinterpret_cast<const typename U::Block*>(w.data.data());
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t t = 0; t < T; ++t) {
        const ActBlock* x = xq + t * (w.cols / kActBlockElements);
        double acc = 0.0;
        for (int64_t b = 0; b < n_blocks; ++b) {
          const typename U::Block& block = rows[r * n_blocks + b];
          UnitScales s[U::kUnits];
          U::Scales(block, s);
          for (int u = 0; u < U::kUnits; ++u) {
            int8_t q[kUnitElements];
            U::Quants(block, u, q);
            const ActBlock& xb = x[b * U::kUnits + u];
            for (int h = 0; h < 2; ++h) {
              int64_t dot = 0;
              for (int i = 16 * h; i < 16 * h + 16; ++i) dot += int64_t{q[i]} * xb.q[i];
              acc += static_cast<double>(s[u].scale[h]) * xb.d * static_cast<double>(dot) +
                     static_cast<double>(s[u].min[h]) * xb.ds_half[h];
            }
          }
        }
        y[t * w.rows + r] = static_cast<float>(acc);
      }
    }
  });
  SHRINK_CHECK(known);
}

}  // namespace shrink::reference
