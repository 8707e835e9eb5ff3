// Properties of the scale searches that hold whatever ggml's candidate order: rounding is IEEE
// half-to-even (checked against std::nearbyint, an independent implementation), and values that
// sit exactly on a grid of the searched shape come back with that grid's step, min and codes.
// Byte-identity with ggml is tested end to end in format_vectors_test.cc.
#include "formats/scale_search.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <random>

namespace shrink {
namespace {

TEST(RoundHalfToEvenTest, MatchesIeeeNearbyIntIncludingTies) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  for (int k = -3000; k <= 3000; ++k) {
    const float tie = static_cast<float>(k) + 0.5f;
    EXPECT_EQ(RoundHalfToEven(tie), static_cast<int>(std::nearbyint(tie))) << tie;
  }
  EXPECT_EQ(RoundHalfToEven(0.5f), 0);
  EXPECT_EQ(RoundHalfToEven(1.5f), 2);
  EXPECT_EQ(RoundHalfToEven(2.5f), 2);
  EXPECT_EQ(RoundHalfToEven(-2.5f), -2);
  EXPECT_EQ(RoundHalfToEven(-0.49999997f), 0);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> value(-4194303.0f, 4194303.0f);
  std::uniform_real_distribution<float> small(-40.0f, 40.0f);
  for (int i = 0; i < 100000; ++i) {
    const float v = i % 2 ? value(rng) : small(rng);
    ASSERT_EQ(RoundHalfToEven(v), static_cast<int>(std::nearbyint(v))) << v;
  }
}

// 16 values on y = step * q, q in [-nmax, nmax - 1], with q = -nmax present (the extreme).
TEST(FitSymmetricScaleTest, RecoversAnExactGrid) {
  for (int nmax : {4, 8, 16, 32}) {
    const float step = 0.0371f;
    float x[16];
    int q[16];
    for (int i = 0; i < 16; ++i) {
      q[i] = i == 3 ? -nmax : (i * 7) % (2 * nmax) - nmax;
      x[i] = step * static_cast<float>(q[i]);
    }
    int8_t codes[16];
    const float s = FitSymmetricScale(x, nullptr, 16, nmax, codes);
    EXPECT_NEAR(s, step, 1e-6 * step) << nmax;
    for (int i = 0; i < 16; ++i) EXPECT_EQ(codes[i], q[i] + nmax) << nmax << " element " << i;
    const float s_refined = FitSymmetricScaleRefined(x, 16, nmax, codes);
    EXPECT_NEAR(s_refined, step, 1e-6 * step) << nmax;
    for (int i = 0; i < 16; ++i) EXPECT_EQ(codes[i], q[i] + nmax) << nmax << " element " << i;
  }
}

TEST(FitSymmetricScaleTest, ZeroGroupGetsZeroCodes) {
  float x[16] = {};
  x[5] = 1e-16f;  // below kZeroGroupMax
  int8_t codes[16];
  EXPECT_EQ(FitSymmetricScale(x, nullptr, 16, 8, codes), 0.0f);
  for (int8_t c : codes) EXPECT_EQ(c, 0);
  EXPECT_EQ(FitSymmetricScaleRefined(x, 16, 4, codes), 0.0f);
  for (int8_t c : codes) EXPECT_EQ(c, 0);
}

// 32 values on y = step * q - m, covering codes 0 and nmax (so the min-max grid is exact).
TEST(FitScaleAndMinTest, RecoversAnExactAffineGrid) {
  const AffineSearchGrid grid = {-0.9f, 0.05f, 36, false};
  for (int nmax : {3, 15, 31}) {
    const float step = 0.25f, m = 1.5f;  // exact in binary: no rounding anywhere
    float x[32], w[32];
    int q[32];
    for (int i = 0; i < 32; ++i) {
      q[i] = i == 0 ? 0 : i == 1 ? nmax : (i * 5) % (nmax + 1);
      x[i] = step * static_cast<float>(q[i]) - m;
      w[i] = 1.0f + static_cast<float>(i % 3);
    }
    uint8_t codes[32];
    float neg_min = 0;
    const float s = FitScaleAndMin(x, w, 32, nmax, grid, codes, &neg_min);
    EXPECT_FLOAT_EQ(s, step) << nmax;
    EXPECT_FLOAT_EQ(neg_min, m) << nmax;
    for (int i = 0; i < 32; ++i) EXPECT_EQ(codes[i], q[i]) << nmax << " element " << i;
  }
}

TEST(FitScaleAndMinTest, TheGridReachesZeroAndConstantsGetAStepOfZero) {
  const AffineSearchGrid grid = {-0.5f, 0.1f, 15, false};
  float x[16];
  for (int i = 0; i < 16; ++i) x[i] = 1.0f + 0.125f * static_cast<float>(i);
  uint8_t codes[16];
  float neg_min = -1;
  FitScaleAndMin(x, nullptr, 16, 31, grid, codes, &neg_min);
  // The grid reaches down to zero or below (m >= 0) even though the values start at 1; the fit
  // may move it below zero.
  EXPECT_GE(neg_min, 0.0f);
  for (float& v : x) v = -0.75f;
  EXPECT_EQ(FitScaleAndMin(x, nullptr, 16, 31, grid, codes, &neg_min), 0.0f);
  EXPECT_EQ(neg_min, 0.75f);
  for (uint8_t c : codes) EXPECT_EQ(c, 0);
}

TEST(FitPositiveScaleTest, RecoversAnExactGridAndZero) {
  float x[8], w[8];
  const int q[8] = {63, 0, 17, 40, 1, 62, 33, 8};
  for (int i = 0; i < 8; ++i) {
    x[i] = 0.5f * static_cast<float>(q[i]);
    w[i] = 1.0f + static_cast<float>(i);
  }
  uint8_t codes[8];
  EXPECT_FLOAT_EQ(FitPositiveScale(x, w, 8, 63, codes), 0.5f);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(codes[i], q[i]) << i;
  float zero[8] = {};
  EXPECT_EQ(FitPositiveScale(zero, w, 8, 63, codes), 0.0f);
  for (uint8_t c : codes) EXPECT_EQ(c, 0);
}

}  // namespace
}  // namespace shrink
