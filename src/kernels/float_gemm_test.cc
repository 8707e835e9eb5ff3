// FloatGemm on every compiled target this CPU supports (Highway's per-target test parameter)
// against a plain F64 loop, for every operand layout and element type, token counts on both sides
// of the dot-product path, partial panels and k blocks, row splits and the causal shortcuts.
#include "kernels/float_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "formats/float_types.h"
#include "hwy/tests/hwy_gtest.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;  // F32 unit roundoff

struct Operand {
  std::vector<float> logical;  // B(k, n) at k · N + n, exactly the stored values
  std::vector<float> f32;      // storage for F32
  std::vector<uint16_t> half;  // storage for F16/BF16
  FloatOperand b;
};

// B: (K, N) stored in `layout` with a stride larger than the row (as caches are; the padding is
// NaN, so reading it would show), rounded to `type` so that the F64 oracle sees the stored values.
Operand MakeOperand(TensorType type, FloatOperand::Layout layout, int64_t K, int64_t N,
                    std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Operand o;
  const bool rows_of_n = layout == FloatOperand::Layout::kRowsOfN;
  const int64_t rows = rows_of_n ? N : K, row_len = rows_of_n ? K : N, stride = row_len + 3;
  o.logical.assign(K * N, 0.0f);
  o.f32.assign(rows * stride, NAN);
  o.half.assign(rows * stride, 0x7fc0);  // a NaN in F16 and in BF16
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < row_len; ++i) {
      float v = normal(rng);
      if (type == TensorType::kF16) {
        o.half[r * stride + i] = F32ToF16(v);
        v = F16ToF32(o.half[r * stride + i]);
      } else if (type == TensorType::kBF16) {
        o.half[r * stride + i] = F32ToBF16(v);
        v = BF16ToF32(o.half[r * stride + i]);
      }
      o.f32[r * stride + i] = v;
      const int64_t k = rows_of_n ? i : r, n = rows_of_n ? r : i;
      o.logical[k * N + n] = v;
    }
  }
  o.b.type = type;
  o.b.layout = layout;
  o.b.stride = stride;
  // Moving the vectors keeps their buffers: the pointer stays valid in the returned Operand.
  o.b.data = type == TensorType::kF32 ? static_cast<const void*>(o.f32.data()) : o.half.data();
  return o;
}

HWY_BEFORE_TEST(FloatGemmTest);

// Each output is an F32 sum of K products: one rounding per fused multiply-add (two without FMA,
// SSE4), and the dot path's lane sums add log2(lanes) <= 4 more: |fast − exact| <= γ_m·Σ_k |x·B|
// with m = 2K + 16 and γ_m = m·u / (1 − m·u).
TEST_P(FloatGemmTest, MatchesF64Products) {
  std::mt19937 rng(31);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (TensorType type : {TensorType::kF32, TensorType::kF16, TensorType::kBF16}) {
    for (auto layout : {FloatOperand::Layout::kRowsOfN, FloatOperand::Layout::kRowsOfK}) {
      for (int64_t T : {1, 3, 4, 13}) {
        // K past one k block on every target (scalar: 4096), N with a partial panel.
        for (int64_t K : {int64_t{40}, int64_t{4200}}) {
          const int64_t N = 77;
          const Operand o = MakeOperand(type, layout, K, N, rng);
          const int64_t ldx = K + 5, ldy = N + 2;
          std::vector<float> x(T * ldx);
          for (float& v : x) v = normal(rng);
          std::vector<float> y(T * ldy, NAN);
          // Two row ranges: results must not depend on the split.
          FloatGemm(x.data(), ldx, T, K, o.b, 0, 29, y.data(), ldy);
          FloatGemm(x.data(), ldx, T, K, o.b, 29, N, y.data(), ldy);
          const double m = 2.0 * K + 16;
          const double gamma = m * kU / (1 - m * kU);
          for (int64_t t = 0; t < T; ++t) {
            for (int64_t n = 0; n < N; ++n) {
              double exact = 0.0, magnitude = 0.0;
              for (int64_t k = 0; k < K; ++k) {
                const double p = double{x[t * ldx + k]} * o.logical[k * N + n];
                exact += p;
                magnitude += std::fabs(p);
              }
              ASSERT_NEAR(y[t * ldy + n], exact, gamma * magnitude)
                  << Traits(type).name << " layout " << static_cast<int>(layout) << " T " << T
                  << " K " << K << " t " << t << " n " << n;
            }
          }
        }
      }
    }
  }
}

// The causal shortcuts give the same values where they promise them: n_causal computes y(t, n)
// for n <= n_causal + t exactly as the full product does; k_causal, with x zero past k_causal + t,
// gives the full product's values everywhere (skipped products are zeros).
TEST_P(FloatGemmTest, CausalShortcutsKeepTheNeededValues) {
  std::mt19937 rng(32);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t T = 21, K = 300, N = 150, pos0 = 9;
  for (int64_t Tn : {int64_t{2}, T}) {  // dot path and panel path
    const Operand o = MakeOperand(TensorType::kF32, FloatOperand::Layout::kRowsOfN, K, N, rng);
    std::vector<float> x(Tn * K);
    for (float& v : x) v = normal(rng);
    std::vector<float> full(Tn * N), causal(Tn * N, NAN);
    FloatGemm(x.data(), K, Tn, K, o.b, 0, N, full.data(), N);
    FloatGemm(x.data(), K, Tn, K, o.b, 0, N, causal.data(), N, {.n_causal = pos0});
    for (int64_t t = 0; t < Tn; ++t) {
      for (int64_t n = 0; n <= std::min(N - 1, pos0 + t); ++n) {
        ASSERT_EQ(causal[t * N + n], full[t * N + n]) << t << " " << n;
      }
    }
  }
  const int64_t Kp = pos0 + T;  // keys
  const Operand v = MakeOperand(TensorType::kF32, FloatOperand::Layout::kRowsOfK, Kp, N, rng);
  std::vector<float> p(T * Kp, 0.0f);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t k = 0; k <= pos0 + t; ++k) p[t * Kp + k] = normal(rng);
  }
  std::vector<float> full(T * N), causal(T * N, NAN);
  FloatGemm(p.data(), Kp, T, Kp, v.b, 0, N, full.data(), N);
  FloatGemm(p.data(), Kp, T, Kp, v.b, 0, N, causal.data(), N, {.k_causal = pos0});
  for (int64_t i = 0; i < T * N; ++i) ASSERT_EQ(causal[i], full[i]) << i;
}

}  // namespace
}  // namespace shrink
