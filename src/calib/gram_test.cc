#include "calib/gram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace shrink {
namespace {

constexpr double kU64 = 0x1p-53;  // unit roundoff of F64

std::vector<float> RandomRows(int64_t T, int64_t C, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(T * C);
  for (float& v : x) v = dist(rng);
  return x;
}

// A random symmetric (C, C) start, so the test covers accumulation onto existing sums.
std::vector<double> RandomSymmetric(int64_t C, std::mt19937& rng) {
  std::normal_distribution<double> dist(0.0, 10.0);
  std::vector<double> G(C * C);
  for (int64_t i = 0; i < C; ++i) {
    for (int64_t j = i; j < C; ++j) G[i * C + j] = G[j * C + i] = dist(rng);
  }
  return G;
}

TEST(GramTest, BlasMatchesReference) {
  std::mt19937 rng(7);
  const int64_t T = 37, C = 19;  // odd sizes: no BLAS block divides them
  const std::vector<float> x = RandomRows(T, C, rng);
  const std::vector<double> G0 = RandomSymmetric(C, rng);
  std::vector<double> fast = G0, ref = G0;
  AccumulateGram(x, T, C, fast);
  reference::AccumulateGram(x, T, C, ref);
  for (int64_t i = 0; i < C; ++i) {
    for (int64_t j = 0; j < C; ++j) {
      // Both add the same T + 1 exactly representable terms (F32·F32 products are exact in F64) in
      // different orders; each sum is within γ_{T+1}·Σ|terms| ≈ (T + 1)·u·Σ|terms| of the exact
      // one.
      double magnitude = std::abs(G0[i * C + j]);
      for (int64_t t = 0; t < T; ++t) {
        magnitude += std::abs(static_cast<double>(x[t * C + i]) * x[t * C + j]);
      }
      EXPECT_NEAR(fast[i * C + j], ref[i * C + j], 2.0 * (T + 1) * kU64 * magnitude)
          << i << "," << j;
      EXPECT_EQ(fast[i * C + j], fast[j * C + i]) << "not symmetric at " << i << "," << j;
    }
  }
}

TEST(GramTest, SmallIntegersAreExactAndBatchesAdd) {
  // Sums of products of small integers are exact in any order: batches must add up exactly.
  const int64_t C = 3;
  const std::vector<float> x = {1,  2,  3,   // t = 0
                                -1, 0,  4,   // t = 1
                                2,  -3, 1};  // t = 2
  std::vector<double> whole(C * C, 0.0), parts(C * C, 0.0);
  AccumulateGram(x, 3, C, whole);
  AccumulateGram(std::span(x).first(3), 1, C, parts);
  AccumulateGram(std::span(x).subspan(3), 2, C, parts);
  const std::vector<double> expected = {6, -4, 1, -4, 13, 3, 1, 3, 26};
  EXPECT_EQ(whole, expected);
  EXPECT_EQ(parts, expected);
  std::vector<double> ref(C * C, 0.0);
  reference::AccumulateGram(x, 3, C, ref);
  EXPECT_EQ(ref, expected);
}

TEST(GramTest, NoRowsLeavesSumUnchanged) {
  std::mt19937 rng(3);
  const std::vector<double> G0 = RandomSymmetric(4, rng);
  std::vector<double> G = G0;
  AccumulateGram({}, 0, 4, G);
  EXPECT_EQ(G, G0);
}

}  // namespace
}  // namespace shrink
