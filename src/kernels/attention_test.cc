#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "formats/float_types.h"
#include "hwy/tests/hwy_gtest.h"
#include "kernels/half_convert.h"
#include "kernels/reference.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;

// T query tokens at positions pos0.. over a cache of P = pos0 + T positions, GQA 9:3 like SmolLM2,
// every value N(0, 1) from mt19937(seed).
struct AttentionInputs {
  AttentionParams p;
  int64_t P = 0;
  std::vector<float> q, k, v;
};

AttentionInputs RandomAttentionInputs(int64_t T, int64_t pos0, int64_t window, uint32_t seed) {
  AttentionInputs in;
  in.p = {.n_heads = 9,
          .n_kv_heads = 3,
          .head_dim = 64,
          .scale = 1.0f / 8.0f,
          .sliding_window = window};
  in.P = pos0 + T;
  const AttentionParams& p = in.p;
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  in.q.resize(T * p.n_heads * p.head_dim);
  in.k.resize(in.P * p.n_kv_heads * p.head_dim);
  in.v.resize(in.P * p.n_kv_heads * p.head_dim);
  for (float& x : in.q) x = dist(rng);
  for (float& x : in.k) x = dist(rng);
  for (float& x : in.v) x = dist(rng);
  return in;
}

// Batched prompt (pos0 = 0) and continuation over an existing cache (pos0 > 0).
void Check(int64_t T, int64_t pos0, int64_t window = 0) {
  AttentionInputs in = RandomAttentionInputs(T, pos0, window, 5);
  const AttentionParams& p = in.p;
  const int64_t P = in.P;
  const std::vector<float>&q = in.q, &k = in.k, &v = in.v;
  std::vector<float> fast(q.size()), ref(q.size()), probs(p.n_heads * T * P);
  Attention(p, T, pos0, q.data(), k.data(), v.data(), fast.data(), probs.data());
  reference::Attention(p, T, pos0, q.data(), k.data(), v.data(), ref.data());
  double qk_max = 0.0, v_max = 0.0;  // max Σ|q_i||k_i| over pairs, max |v|
  for (float x : v) v_max = std::max(v_max, static_cast<double>(std::fabs(x)));
  double q_norm1 = 0.0, k_max = 0.0;
  for (float x : q) q_norm1 = std::max(q_norm1, static_cast<double>(std::fabs(x)));
  for (float x : k) k_max = std::max(k_max, static_cast<double>(std::fabs(x)));
  qk_max = p.head_dim * q_norm1 * k_max;
  // Scores from an F32 dot of head_dim terms err by at most γ_hd·Σ|q||k|·scale (γ_n ≈ n·u); a score
  // error δ changes each softmax weight by a relative 2δ, so the weighted sum of v moves by
  // 2δ·max|v|. The softmax itself (see softmax_test) and the F32 sum over P rows add about (P +
  // 8)·u·max|v|.
  const double delta = (p.head_dim + 2) * kU * qk_max * p.scale;
  const double tol = 2 * delta * v_max + (P + 8) * kU * v_max;
  for (size_t i = 0; i < fast.size(); ++i) EXPECT_NEAR(fast[i], ref[i], tol) << i;
}

// On every compiled target this CPU supports (the products are FloatGemm's, float_gemm.h).
HWY_BEFORE_TEST(AttentionTest);
TEST_P(AttentionTest, PromptMatchesReference) { Check(33, 0); }
TEST_P(AttentionTest, LongPromptMatchesReference) { Check(150, 0); }  // several panels of keys
TEST_P(AttentionTest, SingleTokenOverCacheMatchesReference) { Check(1, 40); }
TEST_P(AttentionTest, FewTokensOverCacheMatchesReference) { Check(3, 40); }  // the dot path
TEST_P(AttentionTest, BatchOverCacheMatchesReference) { Check(5, 12); }
TEST_P(AttentionTest, SlidingWindowMatchesReference) { Check(20, 7, /*window=*/6); }
TEST_P(AttentionTest, LongSlidingWindowMatchesReference) { Check(90, 100, /*window=*/70); }

// An F16 cache is converted exactly inside the products: the results are bit-identical to an F32
// cache holding the same F16-rounded values (the prompt panels, the dot path of few tokens, and a
// sliding window), so the cache's rounding is its only effect (docs/numerics.md, "F16 KV cache").
TEST_P(AttentionTest, F16CacheEqualsF32CacheOfRoundedValues) {
  for (const auto& [T, pos0, window] :
       {std::tuple<int64_t, int64_t, int64_t>{70, 0, 0}, {1, 40, 0}, {3, 40, 0}, {20, 7, 6}}) {
    AttentionInputs in = RandomAttentionInputs(T, pos0, window, 9);
    AttentionParams& p = in.p;
    const int64_t P = in.P;
    std::vector<float>&q = in.q, &k = in.k, &v = in.v;
    std::vector<uint16_t> k16(k.size()), v16(v.size());
    ConvertToF16(k.data(), static_cast<int64_t>(k.size()), k16.data());
    ConvertToF16(v.data(), static_cast<int64_t>(v.size()), v16.data());
    for (size_t i = 0; i < k.size(); ++i) k[i] = F16ToF32(k16[i]);
    for (size_t i = 0; i < v.size(); ++i) v[i] = F16ToF32(v16[i]);
    std::vector<float> f32(q.size()), f16(q.size()), probs32(p.n_heads * T * P),
        probs16(probs32.size());
    Attention(p, T, pos0, q.data(), k.data(), v.data(), f32.data(), probs32.data());
    p.kv_type = TensorType::kF16;
    Attention(p, T, pos0, q.data(), k16.data(), v16.data(), f16.data(), probs16.data());
    EXPECT_EQ(f16, f32) << "T " << T << " pos0 " << pos0;
    EXPECT_EQ(probs16, probs32) << "T " << T << " pos0 " << pos0;
  }
}

TEST_P(AttentionTest, ProbabilitiesAreKeptPerHeadAndMasked) {
  // Every head's (T, P) probabilities survive the call: rows sum to 1 over the visible keys and
  // are exactly 0 for future keys and keys outside the window.
  AttentionParams p{
      .n_heads = 3, .n_kv_heads = 1, .head_dim = 4, .scale = 0.5f, .sliding_window = 3};
  const int64_t T = 6, P = T;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> q(T * 3 * 4), k(P * 4), v(P * 4), out(q.size()), probs(3 * T * P, -1.0f);
  for (float& x : q) x = dist(rng);
  for (float& x : k) x = dist(rng);
  for (float& x : v) x = dist(rng);
  Attention(p, T, 0, q.data(), k.data(), v.data(), out.data(), probs.data());
  for (int64_t h = 0; h < 3; ++h) {
    for (int64_t t = 0; t < T; ++t) {
      double sum = 0.0;
      for (int64_t j = 0; j < P; ++j) {
        const float pj = probs[(h * T + t) * P + j];
        if (j > t || t - j >= 3) {
          EXPECT_EQ(pj, 0.0f) << h << " " << t << " " << j;
        } else {
          EXPECT_GT(pj, 0.0f);
        }
        sum += pj;
      }
      EXPECT_NEAR(sum, 1.0, 1e-6);
    }
  }
}

TEST_P(AttentionTest, FirstTokenSeesOnlyItself) {
  // With one visible key the output is exactly that key's value, whatever the scores.
  AttentionParams p{.n_heads = 2, .n_kv_heads = 1, .head_dim = 2, .scale = 1.0f};
  const float q[4] = {1, 2, 3, 4}, k[4] = {5, 6, 100, 100}, v[4] = {7, 8, -1, -1};
  float out[4], probs[2];
  Attention(p, 1, 0, q, k, v, out, probs);
  EXPECT_EQ(out[0], 7.0f);
  EXPECT_EQ(out[1], 8.0f);
  EXPECT_EQ(out[2], 7.0f);
  EXPECT_EQ(out[3], 8.0f);
}

}  // namespace
}  // namespace shrink
