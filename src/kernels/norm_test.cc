#include "kernels/norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "hwy/tests/hwy_gtest.h"
#include "kernels/reference.h"

namespace shrink {
namespace {

constexpr double kU = 0x1p-24;  // unit roundoff of F32

// Every compiled target this CPU supports (norm.cc is compiled per target).
HWY_BEFORE_TEST(RmsNormTest);

TEST_P(RmsNormTest, MatchesReference) {
  const int64_t T = 5, C = 579;  // a tail shorter than any vector
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> x(T * C), w(C), fast(T * C), ref(T * C);
  for (float& v : x) v = dist(rng);
  for (float& v : w) v = dist(rng);
  RmsNorm(x.data(), w.data(), T, C, 1e-5f, fast.data());
  reference::RmsNorm(x.data(), w.data(), T, C, 1e-5f, ref.data());
  for (int64_t i = 0; i < T * C; ++i) {
    // Fast: squares rounded to F32 (1u each, summed in F64), mean to F32 (1u), sqrt and reciprocal
    // (1u each), two products (1u each): relative error below 6u; 8u leaves margin.
    EXPECT_NEAR(fast[i], ref[i], 8 * kU * std::fabs(ref[i]) + 1e-30) << i;
  }
}

TEST_P(RmsNormTest, InPlaceAndEpsilon) {
  // A zero row normalizes to zero (eps keeps the scale finite); in-place works.
  std::vector<float> x(8, 0.0f), w(8, 1.0f);
  RmsNorm(x.data(), w.data(), 1, 8, 1e-6f, x.data());
  for (float v : x) EXPECT_EQ(v, 0.0f);
  std::vector<float> y = {3.0f, 4.0f};
  std::vector<float> w2 = {1.0f, 2.0f};
  RmsNorm(y.data(), w2.data(), 1, 2, 0.0f, y.data());
  // mean(x²) = 12.5 -> scale 1/sqrt(12.5).
  EXPECT_NEAR(y[0], 3.0 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(y[1], 8.0 / std::sqrt(12.5), 1e-6);
}

}  // namespace
}  // namespace shrink
